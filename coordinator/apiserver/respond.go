package apiserver

import (
	"encoding/json"
	"log"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/yaml"
)

// format is the representation a client asked for in Accept.
type format int

const (
	formatJSON format = iota
	formatYAML
	// formatTable is meta.k8s.io Table (kubectl get).
	formatTable
	// formatPartial is meta.k8s.io PartialObjectMetadata(List).
	formatPartial
)

// negotiate picks the first representation in Accept that the server can
// produce. Protobuf-only clients get 406.
func negotiate(accept string) (format, string, error) {
	if strings.TrimSpace(accept) == "" {
		return formatJSON, "", nil
	}
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "application/json", "*/*", "application/*":
		case "application/yaml":
			if params["as"] == "" {
				return formatYAML, "", nil
			}
			continue
		default:
			continue
		}
		switch params["as"] {
		case "":
			return formatJSON, "", nil
		case "Table":
			if params["g"] == "meta.k8s.io" && (params["v"] == "v1" || params["v"] == "v1beta1") {
				return formatTable, params["v"], nil
			}
		case "PartialObjectMetadata", "PartialObjectMetadataList":
			if params["g"] == "meta.k8s.io" && (params["v"] == "v1" || params["v"] == "v1beta1") {
				return formatPartial, params["v"], nil
			}
		}
	}
	return 0, "", statusError(http.StatusNotAcceptable, "NotAcceptable",
		"only the following media types are accepted: application/json, application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io, application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io")
}

func (s *Server) writeJSON(w http.ResponseWriter, code int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		code, data = http.StatusInternalServerError, mustStatusJSON(apierrors.NewInternalError(err))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(data)
}

// writeEncoded writes v as JSON or YAML as the client asked.
func (s *Server) writeEncoded(w http.ResponseWriter, f format, code int, v any) {
	if f != formatYAML {
		s.writeJSON(w, code, v)
		return
	}
	data, err := yaml.Marshal(v)
	if err != nil {
		s.writeJSON(w, http.StatusInternalServerError, toStatus(apierrors.NewInternalError(err)))
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.WriteHeader(code)
	w.Write(data)
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	st := toStatus(err)
	if st.Code >= 500 {
		s.cfg.Log.Error("api request", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	s.writeJSON(w, int(st.Code), st)
}

func mustStatusJSON(err error) []byte {
	data, _ := json.Marshal(toStatus(err))
	return data
}

func slogErrorLog(l *slog.Logger) *log.Logger {
	return slog.NewLogLogger(l.Handler(), slog.LevelDebug)
}

// warn adds Kubernetes-style warning headers, shown by kubectl.
func warn(w http.ResponseWriter, msgs []string) {
	for _, m := range msgs {
		w.Header().Add("Warning", `299 - "`+strings.ReplaceAll(m, `"`, `\"`)+`"`)
	}
}

package kinds

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxCronJobNameLength leaves room for the 11-character "-<minutes>"
// suffix of the Jobs a CronJob creates, whose names must be DNS labels.
const maxCronJobNameLength = 52

// timeZonePart is one slash-separated element of an IANA zone name.
var timeZonePart = regexp.MustCompile(`^[A-Za-z\.\-_0-9+]{1,14}$`)

func validateCronJob(c *batchv1.CronJob) field.ErrorList {
	errs := ValidateObjectMeta(&c.ObjectMeta, true, metaPath)
	errs = append(errs, validateCronJobSpec(&c.Spec, nil, specPath)...)
	if len(c.Name) > maxCronJobNameLength {
		errs = append(errs, field.Invalid(metaPath.Child("name"), c.Name, fmt.Sprintf("must be no more than %d characters", maxCronJobNameLength)))
	}
	return errs
}

// validateCronJobUpdate skips the name-length rule so that older CronJobs
// with long names can still be changed and deleted.
func validateCronJobUpdate(c, old *batchv1.CronJob) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&c.ObjectMeta, &old.ObjectMeta, metaPath)
	return append(errs, validateCronJobSpec(&c.Spec, &old.Spec, specPath)...)
}

// validateCronJobSpec checks the schedule, time zone, policies, history
// limits and job template. old is nil on create; a TZ= prefix in the
// schedule is tolerated only if the stored schedule already had one.
func validateCronJobSpec(s, old *batchv1.CronJobSpec, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	sf := fld.Child("schedule")
	if s.Schedule == "" {
		errs = append(errs, field.Required(sf, ""))
	} else {
		allowTZ := old != nil && strings.Contains(old.Schedule, "TZ")
		errs = append(errs, validateScheduleFormat(s.Schedule, allowTZ, s.TimeZone, sf)...)
	}
	if s.StartingDeadlineSeconds != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(*s.StartingDeadlineSeconds, fld.Child("startingDeadlineSeconds"))...)
	}
	if old == nil || !equalStringPtr(old.TimeZone, s.TimeZone) {
		errs = append(errs, validateTimeZone(s.TimeZone, fld.Child("timeZone"))...)
	}
	switch cf := fld.Child("concurrencyPolicy"); s.ConcurrencyPolicy {
	case batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent:
	case "":
		errs = append(errs, field.Required(cf, ""))
	default:
		errs = append(errs, field.NotSupported(cf, s.ConcurrencyPolicy,
			[]batchv1.ConcurrencyPolicy{batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent}))
	}
	errs = append(errs, validateJobTemplateSpec(&s.JobTemplate, fld.Child("jobTemplate"))...)
	if s.SuccessfulJobsHistoryLimit != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*s.SuccessfulJobsHistoryLimit), fld.Child("successfulJobsHistoryLimit"))...)
	}
	if s.FailedJobsHistoryLimit != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*s.FailedJobsHistoryLimit), fld.Child("failedJobsHistoryLimit"))...)
	}
	return errs
}

func validateScheduleFormat(schedule string, allowTZ bool, timeZone *string, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if _, err := ParseSchedule(schedule); err != nil {
		errs = append(errs, field.Invalid(fld, schedule, err.Error()))
	}
	hasTZ := strings.Contains(schedule, "TZ")
	switch {
	case allowTZ && hasTZ && timeZone != nil:
		errs = append(errs, field.Invalid(fld, schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
	case !allowTZ && hasTZ:
		errs = append(errs, field.Invalid(fld, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
	}
	return errs
}

// validateTimeZone accepts nil or an IANA zone name the runtime can load;
// "Local" is refused because it would mean the coordinator's own zone.
func validateTimeZone(tz *string, fld *field.Path) field.ErrorList {
	if tz == nil {
		return nil
	}
	if *tz == "" {
		return field.ErrorList{field.Invalid(fld, *tz, "timeZone must be nil or non-empty string")}
	}
	for _, part := range strings.Split(*tz, "/") {
		if part == "." || part == ".." || strings.HasPrefix(part, "-") || !timeZonePart.MatchString(part) {
			return field.ErrorList{field.Invalid(fld, *tz, fmt.Sprintf("unknown time zone %s", *tz))}
		}
	}
	if strings.EqualFold(*tz, "Local") {
		return field.ErrorList{field.Invalid(fld, *tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones")}
	}
	if _, err := time.LoadLocation(*tz); err != nil {
		return field.ErrorList{field.Invalid(fld, *tz, err.Error())}
	}
	return nil
}

// validateJobTemplateSpec checks a CronJob's job template: its metadata,
// the Job spec without a selector, which is always generated per Job.
func validateJobTemplateSpec(t *batchv1.JobTemplateSpec, fld *field.Path) field.ErrorList {
	mf := fld.Child("metadata")
	errs := metavalidation.ValidateLabels(t.Labels, mf.Child("labels"))
	errs = append(errs, apivalidation.ValidateAnnotations(t.Annotations, mf.Child("annotations"))...)
	sf := fld.Child("spec")
	errs = append(errs, validateJobSpec(&t.Spec, sf, false)...)
	if t.Spec.Selector != nil {
		errs = append(errs, field.Invalid(sf.Child("selector"), t.Spec.Selector, "`selector` will be auto-generated"))
	}
	if t.Spec.ManualSelector != nil && *t.Spec.ManualSelector {
		errs = append(errs, field.NotSupported(sf.Child("manualSelector"), *t.Spec.ManualSelector, []string{"nil", "false"}))
	}
	return errs
}

func equalStringPtr(a, b *string) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

package controllers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

func TestCronJob_runsOnScheduleAndManually(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "tick", Namespace: "default"},
		Spec: batchv1.CronJobSpec{
			Schedule: "@every 1s", ConcurrencyPolicy: batchv1.ForbidConcurrent,
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "work", Image: "busybox"}}}}}},
		},
	}
	created, err := c.cs.BatchV1().CronJobs("default").Create(ctx, cj, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var first batchv1.Job
	waitFor(t, "a scheduled job", func(ctx context.Context) (bool, error) {
		l, err := c.cs.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{})
		if err != nil || len(l.Items) == 0 {
			return false, err
		}
		first = l.Items[0]
		return true, nil
	})
	at, err := time.Parse(time.RFC3339, first.Annotations[batchv1.CronJobScheduledTimestampAnnotation])
	if err != nil || !metav1.IsControlledBy(&first, created) || !strings.HasPrefix(first.Name, "tick-") {
		t.Fatalf("job %s annotations %v owners %v: %v", first.Name, first.Annotations, first.OwnerReferences, err)
	}
	waitFor(t, "status to name the active job", func(ctx context.Context) (bool, error) {
		got, err := c.cs.BatchV1().CronJobs("default").Get(ctx, "tick", metav1.GetOptions{})
		return err == nil && len(got.Status.Active) == 1 && got.Status.Active[0].Name == first.Name &&
			got.Status.LastScheduleTime != nil && got.Status.LastScheduleTime.Time.Equal(at), err
	})
	// Forbid: while the first job runs, no second one starts.
	time.Sleep(1500 * time.Millisecond)
	if l, _ := c.cs.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{}); len(l.Items) != 1 {
		t.Fatalf("%d jobs while the first runs under Forbid", len(l.Items))
	}
	kubectl(t, c, "patch", "cronjob/tick", "--type=merge", "-p", `{"spec":{"suspend":true}}`)
	kubectl(t, c, "create", "job", "--from=cronjob/tick", "by-hand")
	j, err := c.cs.BatchV1().Jobs("default").Get(ctx, "by-hand", metav1.GetOptions{})
	if err != nil || !metav1.IsControlledBy(j, created) || j.Annotations["cronjob.kubernetes.io/instantiate"] != "manual" {
		t.Fatalf("manual job: %v %+v", err, j)
	}
	waitFor(t, "a pod of the manual job", func(ctx context.Context) (bool, error) { return len(jobPods(t, c.cs, "by-hand")) == 1, nil })
	// Deleting the CronJob takes its Jobs and their pods.
	if err := c.cs.BatchV1().CronJobs("default").Delete(ctx, "tick", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "jobs and pods gone with the cronjob", func(ctx context.Context) (bool, error) {
		_, err := c.cs.BatchV1().Jobs("default").Get(ctx, "by-hand", metav1.GetOptions{})
		l, _ := c.cs.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{})
		return apierrors.IsNotFound(err) && len(l.Items) == 0 && len(jobPods(t, c.cs, "by-hand")) == 0, nil
	})
}

func TestCronJob_keepsHistory(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "hist", Namespace: "default"},
		Spec: batchv1.CronJobSpec{
			Schedule: "0 0 1 1 *", Suspend: ptr.To(true), SuccessfulJobsHistoryLimit: ptr.To[int32](1),
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Suspend: ptr.To(true), Template: corev1.PodTemplateSpec{
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "work", Image: "busybox"}}}}}},
		},
	}
	if _, err := c.cs.BatchV1().CronJobs("default").Create(ctx, cj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Three runs by hand, finished in order.
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	for i, name := range []string{"h1", "h2", "h3"} {
		kubectl(t, c, "create", "job", "--from=cronjob/hist", name)
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			j, err := c.cs.BatchV1().Jobs("default").Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			start := metav1.NewTime(base.Add(time.Duration(i) * time.Minute))
			end := metav1.NewTime(start.Add(time.Second))
			j.Status.StartTime, j.Status.CompletionTime = &start, &end
			j.Status.Conditions = []batchv1.JobCondition{
				{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: end},
				{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: end}}
			_, err = c.cs.BatchV1().Jobs("default").UpdateStatus(ctx, j, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "only the newest completed job kept", func(ctx context.Context) (bool, error) {
		l, err := c.cs.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{})
		got, gerr := c.cs.BatchV1().CronJobs("default").Get(ctx, "hist", metav1.GetOptions{})
		return err == nil && gerr == nil && len(l.Items) == 1 && l.Items[0].Name == "h3" &&
			got.Status.LastSuccessfulTime != nil && got.Status.LastSuccessfulTime.Time.Equal(base.Add(2*time.Minute+time.Second)), nil
	})
	waitFor(t, "SuccessfulDelete events", func(ctx context.Context) (bool, error) {
		return strings.Count(eventReasons(t, c.cs, "CronJob", "hist"), "SuccessfulDelete") == 2, nil
	})
}

//! Kubernetes objects as compact, kubectl-like tables: name, status, ready counts, restarts,
//! age. Pure functions of the objects and the current time, so they test without a cluster.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

/// Seconds since the Unix epoch.
pub(crate) type UnixSeconds = i64;

pub(crate) fn namespaces(items: &[Namespace], now: UnixSeconds) -> String {
    let rows = items.iter().map(|ns| {
        vec![
            name(&ns.metadata),
            ns.status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_else(|| "-".to_owned()),
            age(&ns.metadata, now),
        ]
    });
    table(&["NAME", "STATUS", "AGE"], rows)
}

pub(crate) fn pods(items: &[Pod], now: UnixSeconds) -> String {
    let rows = items.iter().map(|pod| {
        let statuses = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.clone())
            .unwrap_or_default();
        let containers = pod
            .spec
            .as_ref()
            .map_or(statuses.len(), |s| s.containers.len());
        let ready = statuses.iter().filter(|c| c.ready).count();
        let restarts: i32 = statuses.iter().map(|c| c.restart_count).sum();
        vec![
            name(&pod.metadata),
            format!("{ready}/{containers}"),
            pod_status(pod),
            restarts.to_string(),
            age(&pod.metadata, now),
        ]
    });
    table(&["NAME", "READY", "STATUS", "RESTARTS", "AGE"], rows)
}

pub(crate) fn deployments(items: &[Deployment], now: UnixSeconds) -> String {
    let rows = items.iter().map(|d| {
        let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let status = d.status.clone().unwrap_or_default();
        vec![
            name(&d.metadata),
            format!("{}/{wanted}", status.ready_replicas.unwrap_or(0)),
            status.updated_replicas.unwrap_or(0).to_string(),
            status.available_replicas.unwrap_or(0).to_string(),
            age(&d.metadata, now),
        ]
    });
    table(&["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], rows)
}

/// What kubectl shows in STATUS: a container's waiting or terminated reason wins over the
/// pod's phase (`CrashLoopBackOff` says more than `Running`); a pod being deleted is
/// `Terminating`.
fn pod_status(pod: &Pod) -> String {
    if pod.metadata.deletion_timestamp.is_some() {
        return "Terminating".to_owned();
    }
    let status = pod.status.clone().unwrap_or_default();
    let containers = status.container_statuses.unwrap_or_default();
    let container_reason = containers.iter().find_map(|c| {
        let state = c.state.as_ref()?;
        state
            .waiting
            .as_ref()
            .and_then(|w| w.reason.clone())
            .or_else(|| {
                let terminated = state.terminated.as_ref()?;
                Some(
                    terminated
                        .reason
                        .clone()
                        .unwrap_or_else(|| format!("ExitCode:{}", terminated.exit_code)),
                )
            })
    });
    container_reason
        .or(status.reason)
        .or(status.phase)
        .unwrap_or_else(|| "Unknown".to_owned())
}

fn name(meta: &ObjectMeta) -> String {
    meta.name.clone().unwrap_or_else(|| "-".to_owned())
}

fn age(meta: &ObjectMeta, now: UnixSeconds) -> String {
    meta.creation_timestamp.as_ref().map_or_else(
        || "-".to_owned(),
        |Time(created)| short_duration(now - created.as_second()),
    )
}

/// `45s`, `12m`, `5h`, `3d`, as kubectl abbreviates ages.
fn short_duration(seconds: i64) -> String {
    let seconds = seconds.max(0);
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 2 * 3600 => format!("{}m", s / 60),
        s if s < 2 * 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// Left-aligned columns, two spaces apart.
fn table(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = std::iter::once(header.iter().map(|h| (*h).to_owned()).collect())
        .chain(rows)
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            cells.join("  ").trim_end().to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// 2026-11-24T10:00:00Z.
    const NOW: UnixSeconds = 1_795_514_400;

    fn pod(value: serde_json::Value) -> Pod {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn pods_show_ready_status_restarts_and_age() {
        let listed = [
            pod(json!({
                "metadata": {"name": "api-1", "creationTimestamp": "2026-11-20T10:00:00Z"},
                "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
                "status": {"phase": "Running", "containerStatuses": [
                    {"name": "a", "ready": true, "restartCount": 0, "image": "", "imageID": ""},
                    {"name": "b", "ready": true, "restartCount": 2, "image": "", "imageID": ""}]}
            })),
            pod(json!({
                "metadata": {"name": "worker-1", "creationTimestamp": "2026-11-24T09:59:15Z"},
                "spec": {"containers": [{"name": "w"}]},
                "status": {"phase": "Running", "containerStatuses": [
                    {"name": "w", "ready": false, "restartCount": 7, "image": "", "imageID": "",
                     "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}
            })),
            pod(json!({
                "metadata": {"name": "job-1", "creationTimestamp": "2026-11-24T07:00:00Z"},
                "spec": {"containers": [{"name": "j"}]},
                "status": {"phase": "Failed", "containerStatuses": [
                    {"name": "j", "ready": false, "restartCount": 0, "image": "", "imageID": "",
                     "state": {"terminated": {"exitCode": 3}}}]}
            })),
            pod(json!({"metadata": {"name": "pending"}, "status": {"phase": "Pending"}})),
        ];
        assert_eq!(
            pods(&listed, NOW),
            "NAME      READY  STATUS            RESTARTS  AGE\n\
             api-1     2/2    Running           2         4d\n\
             worker-1  0/1    CrashLoopBackOff  7         45s\n\
             job-1     0/1    ExitCode:3        0         3h\n\
             pending   0/0    Pending           0         -"
        );
    }

    #[test]
    fn deployments_and_namespaces_read_like_kubectl() {
        let deployment: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "worker", "creationTimestamp": "2026-11-24T09:30:00Z"},
            "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"readyReplicas": 1, "updatedReplicas": 2, "availableReplicas": 1}
        }))
        .unwrap();
        assert_eq!(
            deployments(&[deployment], NOW),
            "NAME    READY  UP-TO-DATE  AVAILABLE  AGE\nworker  1/2    2           1          30m"
        );
        let namespace: Namespace = serde_json::from_value(json!({
            "metadata": {"name": "production", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "status": {"phase": "Active"}
        }))
        .unwrap();
        assert_eq!(
            namespaces(&[namespace], NOW),
            "NAME        STATUS  AGE\nproduction  Active  327d"
        );
    }

    #[test]
    fn a_terminating_pod_says_so() {
        let p = pod(
            json!({"metadata": {"name": "p", "deletionTimestamp": "2026-11-24T09:00:00Z"},
                           "status": {"phase": "Running"}}),
        );
        assert_eq!(pod_status(&p), "Terminating");
    }
}

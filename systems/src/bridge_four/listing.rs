//! Job views sized to fit one message: a job's detail trimmed to a byte budget, and the job
//! list in pages. However many jobs, tasks or failures there are, the leader's answer goes out
//! (a reply over the message size limit would be lost).

use super::JobView;
use highstorm_nodes::wire::MAX_MESSAGE_BYTES;

/// The bytes of JSON a reply's views may take: half a message, leaving room for the rest.
pub(super) const VIEW_BUDGET: usize = MAX_MESSAGE_BYTES / 2;

fn size(view: &JobView) -> usize {
    serde_json::to_vec(view).map_or(usize::MAX, |v| v.len())
}

/// `view` with its per-task detail and error list cut (from the end) until it fits `budget`
/// bytes of JSON; the counts (`done`, `failed`, `total`) stay exact.
pub(super) fn fit(mut view: JobView, budget: usize) -> JobView {
    while size(&view) > budget {
        if view.tasks.len() >= view.errors.len() && !view.tasks.is_empty() {
            view.tasks.truncate(view.tasks.len() / 2);
        } else if !view.errors.is_empty() {
            view.errors.truncate(view.errors.len() / 2);
        } else {
            break;
        }
    }
    view
}

/// One page of the job list: the views (each fitted) that fit `budget` together, taken in
/// order, at least one; and the id to continue after, if views are left.
pub(super) fn page(
    views: impl Iterator<Item = JobView>,
    budget: usize,
) -> (Vec<JobView>, Option<u64>) {
    let mut views = views.map(|v| fit(v, budget));
    let mut out = vec![];
    let mut used = 0;
    let mut held = views.next();
    while let Some(view) = held.take() {
        let n = size(&view) + 1;
        if !out.is_empty() && used + n > budget {
            held = Some(view);
            break;
        }
        used += n;
        out.push(view);
        held = views.next();
    }
    let next = held.and(out.last().map(|v| v.id));
    (out, next)
}

#[cfg(test)]
mod tests {
    use super::super::{AssignmentStatus, JobStatus, TaskStatus, TaskView};
    use super::*;

    fn job(id: u64, tasks: usize, path_len: usize) -> JobView {
        JobView {
            id,
            name: format!("job {id}"),
            kind: "wordcount".into(),
            status: JobStatus::Error,
            assignment: AssignmentStatus::FullyAssigned,
            done: 0,
            failed: tasks as u32,
            total: tasks as u32,
            tasks: (0..tasks)
                .map(|t| TaskView {
                    task: t as u32,
                    input: "p".repeat(path_len),
                    status: TaskStatus::Error,
                    attempt: 1,
                    worker: Some("w1".into()),
                    reason: Some("no such file".into()),
                })
                .collect(),
            errors: (0..tasks)
                .map(|t| format!("task {t}: {}", "e".repeat(path_len)))
                .collect(),
        }
    }

    #[test]
    fn a_huge_view_is_trimmed_to_fit_and_keeps_its_counts() {
        let big = job(1, 200, 1000);
        assert!(size(&big) > MAX_MESSAGE_BYTES);
        let fitted = fit(big, VIEW_BUDGET);
        assert!(size(&fitted) <= VIEW_BUDGET);
        assert!(!fitted.tasks.is_empty() && !fitted.errors.is_empty());
        assert_eq!((fitted.failed, fitted.total), (200, 200));
        let small = job(2, 3, 10);
        assert_eq!(fit(small.clone(), VIEW_BUDGET), small);
    }

    #[test]
    fn pages_cover_every_job_once_in_order_within_the_budget() {
        let all: Vec<JobView> = (1..=3000).map(|id| job(id, 0, 0)).collect();
        let mut seen = vec![];
        let mut after = 0;
        loop {
            let rest = all.iter().filter(|v| v.id > after).cloned();
            let (views, next) = page(rest, VIEW_BUDGET);
            let bytes: usize = views.iter().map(size).sum();
            assert!(bytes <= VIEW_BUDGET, "{bytes}");
            seen.extend(views.iter().map(|v| v.id));
            match next {
                Some(n) => after = n,
                None => break,
            }
        }
        assert_eq!(seen, (1..=3000).collect::<Vec<_>>());
    }
}

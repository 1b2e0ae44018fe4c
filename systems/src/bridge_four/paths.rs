//! Where a job reads and writes, checked before the leader accepts it: every path well formed
//! (the blob stores' one rule), and no job's output where another job's output is, so one job
//! can never overwrite another's results.

use highstorm_nodes::storage::check_blob_path;

/// The directory that holds the outputs of jobs that name none (`output/job-{id}`).
pub const DEFAULT_OUTPUT_ROOT: &str = "output";

/// The output directory of job `id` when it names none.
pub fn default_output(id: u64) -> String {
    format!("{DEFAULT_OUTPUT_ROOT}/job-{id}")
}

/// Why a job's paths are refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathRefused {
    /// An input path is not a well-formed blob path.
    #[error("input {index} ({path:?}): {reason}")]
    BadInput {
        /// Its position in `inputs`.
        index: usize,
        /// The path.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The output is not a well-formed blob path.
    #[error("output {path:?}: {reason}")]
    BadOutput {
        /// The path.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The output lies where jobs without an output write theirs.
    #[error(
        "output {path:?} is reserved: `{DEFAULT_OUTPUT_ROOT}` and `{DEFAULT_OUTPUT_ROOT}/job-*` \
         hold the outputs of jobs that name none"
    )]
    Reserved {
        /// The path.
        path: String,
    },
    /// The output is, contains or lies inside another job's output.
    #[error(
        "output {path:?} overlaps job {job}'s output {theirs:?}: a job's output may not be, \
         contain or lie inside another job's"
    )]
    Taken {
        /// The path.
        path: String,
        /// The job whose output it overlaps.
        job: u64,
        /// That job's output.
        theirs: String,
    },
}

/// Checks a job's `inputs` and `output` (when it names one) against the blob path rule, the
/// reserved default outputs, and the outputs `taken` by other jobs (`(id, output)`).
pub fn check_job_paths<'a>(
    inputs: &[String],
    output: Option<&str>,
    taken: impl IntoIterator<Item = (u64, &'a str)>,
) -> Result<(), PathRefused> {
    for (index, path) in inputs.iter().enumerate() {
        check_blob_path(path).map_err(|reason| PathRefused::BadInput {
            index,
            path: path.clone(),
            reason,
        })?;
    }
    let Some(path) = output else {
        return Ok(());
    };
    // The files a job writes go inside its output: check one of them, so the whole path
    // (with the file name) stays within the limits.
    check_blob_path(path)
        .and_then(|()| check_blob_path(&result_path(path)))
        .map_err(|reason| PathRefused::BadOutput {
            path: path.to_owned(),
            reason,
        })?;
    let reserved_prefix = format!("{DEFAULT_OUTPUT_ROOT}/job-");
    if path == DEFAULT_OUTPUT_ROOT || path.starts_with(&reserved_prefix) {
        return Err(PathRefused::Reserved {
            path: path.to_owned(),
        });
    }
    for (job, theirs) in taken {
        if overlaps(path, theirs) {
            return Err(PathRefused::Taken {
                path: path.to_owned(),
                job,
                theirs: theirs.to_owned(),
            });
        }
    }
    Ok(())
}

/// Where a job with output directory `output` writes its result.
pub fn result_path(output: &str) -> String {
    format!("{output}/result.json")
}

/// Whether two output directories are the same, or one lies inside the other.
fn overlaps(a: &str, b: &str) -> bool {
    let inside =
        |x: &str, y: &str| x.len() > y.len() && x.starts_with(y) && x.as_bytes()[y.len()] == b'/';
    a == b || inside(a, b) || inside(b, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn bad_paths_reserved_outputs_and_overlapping_outputs_are_refused() {
        let ok = strings(&["corpus/a.txt", "corpus/b.txt"]);
        let taken = [(1, "output/job-1"), (2, "results/mine")];
        assert_eq!(check_job_paths(&ok, None, taken), Ok(()));
        assert_eq!(check_job_paths(&ok, Some("results/other"), taken), Ok(()));
        assert_eq!(check_job_paths(&ok, Some("results/mine2"), taken), Ok(()));
        assert_eq!(check_job_paths(&ok, Some("output/custom"), taken), Ok(()));
        for bad in ["../x", "/etc/passwd", "a/../b", ""] {
            let inputs = strings(&["corpus/a.txt", bad]);
            let e = check_job_paths(&inputs, None, taken).unwrap_err();
            assert!(
                matches!(e, PathRefused::BadInput { index: 1, .. }),
                "{bad}: {e}"
            );
            let e = check_job_paths(&ok, Some(bad), taken).unwrap_err();
            assert!(matches!(e, PathRefused::BadOutput { .. }), "{bad}: {e}");
        }
        for reserved in [
            "output",
            "output/job-1",
            "output/job-7",
            "output/job-1/deeper",
        ] {
            let e = check_job_paths(&ok, Some(reserved), []).unwrap_err();
            assert!(matches!(e, PathRefused::Reserved { .. }), "{reserved}: {e}");
        }
        for (overlap, job) in [("results/mine", 2), ("results", 2), ("results/mine/x", 2)] {
            let e = check_job_paths(&ok, Some(overlap), taken).unwrap_err();
            assert!(
                matches!(&e, PathRefused::Taken { job: j, .. } if *j == job),
                "{overlap}: {e}"
            );
        }
    }
}

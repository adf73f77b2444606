//! Reading a catalog as it was: at a git revision (`git show REV:./file`),
//! through the file's history (`git log REV -- file`), or from a plain file.
//!
//! git runs in the catalog's directory, with no pager, no prompts and no
//! network (only `rev-parse`, `show` and `log` on local objects).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Why an earlier version could not be read (the check exits 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaselineError(pub String);

impl std::fmt::Display for BaselineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BaselineError {}

/// Most earlier versions read for a `_TRANSITIVE` mode.
pub const MAX_HISTORY: usize = 500;

/// The catalog file split into the directory git runs in and the name
/// git is given.
fn split(path: &Path) -> (PathBuf, String) {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    (dir, name)
}

/// Run git in `dir`; `Ok(stdout)` on success, `Err(stderr)` otherwise.
fn git(dir: &Path, args: &[&str]) -> Result<String, BaselineError> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["--no-pager", "-c", "core.quotepath=off"])
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .output()
        .map_err(|e| {
            BaselineError(format!(
                "cannot run git: {e}; install git, or compare two files with `herald diff OLD NEW`"
            ))
        })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(BaselineError(
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ))
    }
}

/// Check that `rev` names a commit in the repository holding `path`.
fn commit(path: &Path, rev: &str) -> Result<String, BaselineError> {
    let (dir, _) = split(path);
    if rev.starts_with('-') {
        return Err(BaselineError(format!("`{rev}` is not a git revision")));
    }
    git(&dir, &["rev-parse", "--is-inside-work-tree"]).map_err(|e| {
        BaselineError(format!(
            "{} is not inside a git repository ({e}); give the baseline as a file instead",
            dir.display()
        ))
    })?;
    git(&dir, &["rev-parse", "--verify", "--quiet", "--end-of-options", &format!("{rev}^{{commit}}")])
        .map(|s| s.trim().to_string())
        .map_err(|_| BaselineError(format!("unknown git revision `{rev}`; try `HEAD~1`, a branch such as `origin/main`, or a tag (fetch it first in a shallow CI clone)")))
}

/// The text of `path` at the git revision `rev`; `Ok(None)` when the file
/// did not exist there.
pub fn read_at(path: &Path, rev: &str) -> Result<Option<String>, BaselineError> {
    let sha = commit(path, rev)?;
    show(path, &sha)
}

fn show(path: &Path, sha: &str) -> Result<Option<String>, BaselineError> {
    let (dir, name) = split(path);
    // Absent at that commit: `git cat-file -e` fails quietly.
    if git(&dir, &["cat-file", "-e", &format!("{sha}:./{name}")]).is_err() {
        return Ok(None);
    }
    git(&dir, &["show", &format!("{sha}:./{name}")]).map(Some)
}

/// Every earlier version of `path` reachable from `rev`, newest first:
/// `(short commit, text)` for each commit that changed the file, at most
/// [`MAX_HISTORY`].
pub fn history(path: &Path, rev: &str) -> Result<Vec<(String, String)>, BaselineError> {
    let sha = commit(path, rev)?;
    let (dir, name) = split(path);
    let log = git(
        &dir,
        &[
            "log",
            "--format=%H",
            &format!("--max-count={MAX_HISTORY}"),
            &sha,
            "--",
            &name,
        ],
    )?;
    let mut out = Vec::new();
    for commit in log.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(text) = show(path, commit)? {
            out.push((commit.chars().take(10).collect(), text));
        }
    }
    Ok(out)
}

/// A baseline given on the command line: a file when one exists at that
/// path, else a git revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A catalog file.
    File(PathBuf),
    /// A git revision of the catalog being checked.
    Revision(String),
}

impl Source {
    /// Decide what `spec` names.
    pub fn parse(spec: &str) -> Source {
        if Path::new(spec).is_file() {
            Source::File(PathBuf::from(spec))
        } else {
            Source::Revision(spec.to_string())
        }
    }
}

/// A catalog named on the command line as a file or as `REV:path`.
pub fn read_spec(spec: &str) -> Result<(String, String), BaselineError> {
    if Path::new(spec).is_file() {
        return std::fs::read_to_string(spec)
            .map(|t| (spec.to_string(), t))
            .map_err(|e| BaselineError(format!("cannot read {spec}: {e}")));
    }
    if let Some((rev, file)) = spec
        .split_once(':')
        .filter(|(r, f)| !r.is_empty() && !f.is_empty())
    {
        return match read_at(Path::new(file), rev)? {
            Some(text) => Ok((file.to_string(), text)),
            None => Err(BaselineError(format!("{file} does not exist at `{rev}`"))),
        };
    }
    Err(BaselineError(format!(
        "cannot read {spec}: no such file; name a catalog file, or `REV:path` for one in git (`HEAD~1:events.yaml`)"
    )))
}

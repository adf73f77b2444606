//! Reading a catalog as it was: at a git revision (`git show REV:./file`,
//! or under its old name when it was renamed since), through the file's
//! history across renames (`git log --follow REV -- file`, the texts by one
//! `git cat-file --batch`), or from a plain file.
//!
//! git runs in the catalog's directory, with no pager, no prompts and no
//! network (only `rev-parse`, `show`, `log`, `ls-files` and `cat-file` on
//! local objects).

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

/// How many earlier versions a `_TRANSITIVE` mode reads by default
/// (`--max-history` changes it). Each is parsed and compared, so a long
/// history costs time; when there are more, the report says which were
/// left out.
pub const MAX_HISTORY: usize = 500;

/// The catalog file split into the directory git runs in and the name
/// git is given.
fn split(path: &Path) -> (PathBuf, String) {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
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
        .map_err(|e| BaselineError(format!("cannot run git: {e}; install git, or compare two files with `herald diff OLD NEW`")))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(BaselineError(String::from_utf8_lossy(&output.stderr).trim().to_string()))
    }
}

/// Check that `rev` names a commit in the repository holding `path`.
fn commit(path: &Path, rev: &str) -> Result<String, BaselineError> {
    let (dir, _) = split(path);
    if rev.starts_with('-') {
        return Err(BaselineError(format!("`{rev}` is not a git revision")));
    }
    git(&dir, &["rev-parse", "--is-inside-work-tree"]).map_err(|e| {
        BaselineError(format!("{} is not inside a git repository ({e}); give the baseline as a file instead", dir.display()))
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

/// Where the file `path` was at the git revision `rev` when it has been
/// renamed since (`git log --follow` from `HEAD` back to `rev`): its path
/// from the repository's root and its text; `Ok(None)` when it was not
/// renamed (or did not exist there).
pub fn renamed_at(path: &Path, rev: &str) -> Result<Option<(String, String)>, BaselineError> {
    let sha = commit(path, rev)?;
    let (dir, name) = split(path);
    let log = git(&dir, &["log", "--follow", "--name-status", "--format=%x00%H", &format!("{sha}..HEAD"), "--", &name])?;
    // Newest first: the last rename listed is the first one after `rev`,
    // and its source is the path at `rev`.
    let Some(old) = log.lines().filter(|l| l.starts_with('R')).filter_map(|l| l.split('\t').nth(1)).next_back() else {
        return Ok(None);
    };
    let texts = cat_files(&dir, &[(sha, old.to_string())])?;
    Ok(texts.into_iter().next().flatten().map(|text| (old.to_string(), text)))
}

fn show(path: &Path, sha: &str) -> Result<Option<String>, BaselineError> {
    let (dir, name) = split(path);
    // Absent at that commit: `git cat-file -e` fails quietly.
    if git(&dir, &["cat-file", "-e", &format!("{sha}:./{name}")]).is_err() {
        return Ok(None);
    }
    git(&dir, &["show", &format!("{sha}:./{name}")]).map(Some)
}

/// One earlier version of the catalog in git.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Past {
    /// The commit, abbreviated to 10 characters.
    pub commit: String,
    /// The file's path at that commit, from the repository's root (it
    /// differs from today's after a rename).
    pub path: String,
    /// The file's text.
    pub text: String,
}

/// The earlier versions read, and whether there were more.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// Newest first.
    pub versions: Vec<Past>,
    /// The limit, when the file has more versions than it (the oldest
    /// ones were not read).
    pub truncated_at: Option<usize>,
}

/// Every earlier version of `path` reachable from `rev`, newest first: one
/// per commit that changed the file, following the file across renames
/// (`git log --follow`), at most `limit` of them. All texts are read by
/// one `git cat-file --batch`.
pub fn history(path: &Path, rev: &str, limit: usize) -> Result<History, BaselineError> {
    let sha = commit(path, rev)?;
    let (dir, name) = split(path);
    // `%x00%H` starts each commit; `--name-only` then lists the file's
    // path there (from the root). A merge lists none: it keeps the path
    // of the newer commit.
    let log = git(
        &dir,
        &["log", "--follow", "--name-only", "--format=%x00%H", &format!("--max-count={}", limit.saturating_add(1)), &sha, "--", &name],
    )?;
    let mut commits: Vec<(String, String)> = Vec::new();
    let mut last_path: Option<String> = None;
    for record in log.split('\0').filter(|r| !r.trim().is_empty()) {
        let mut lines = record.lines().map(str::trim).filter(|l| !l.is_empty());
        let Some(commit) = lines.next() else { continue };
        let path = match lines.next() {
            Some(p) => p.to_string(),
            None => match &last_path {
                Some(p) => p.clone(),
                // The newest commit is a merge: the path it has now.
                None => git(&dir, &["ls-files", "--full-name", "--", &name])?.lines().next().unwrap_or(&name).to_string(),
            },
        };
        last_path = Some(path.clone());
        commits.push((commit.to_string(), path));
    }
    let truncated_at = (commits.len() > limit).then_some(limit);
    commits.truncate(limit);
    let texts = cat_files(&dir, &commits)?;
    let versions = commits
        .into_iter()
        .zip(texts)
        .filter_map(|((commit, path), text)| Some(Past { commit: commit.chars().take(10).collect(), path, text: text? }))
        .collect();
    Ok(History { versions, truncated_at })
}

/// The text of each `(commit, path from the root)` by one `git cat-file
/// --batch`; `None` where the file is absent (a commit that deleted it).
fn cat_files(dir: &Path, wanted: &[(String, String)]) -> Result<Vec<Option<String>>, BaselineError> {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::Stdio;
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let fail = |e: std::io::Error| BaselineError(format!("reading the history with git cat-file: {e}"));
    let mut child = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["cat-file", "--batch"])
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(fail)?;
    let requests: String = wanted.iter().map(|(c, p)| format!("{c}:{p}\n")).collect();
    let mut stdin = child.stdin.take().ok_or_else(|| BaselineError("git cat-file has no stdin".into()))?;
    // Written from a thread: git answers while it reads, and a full
    // stdout pipe must not stall our writing.
    let writer = std::thread::spawn(move || stdin.write_all(requests.as_bytes()));
    let mut reader = BufReader::new(child.stdout.take().ok_or_else(|| BaselineError("git cat-file has no stdout".into()))?);
    let mut out = Vec::with_capacity(wanted.len());
    for (commit, path) in wanted {
        let mut header = String::new();
        reader.read_line(&mut header).map_err(fail)?;
        // `<sha> blob <size>`, or `<object> missing`.
        let size = match header.trim_end().rsplit_once(' ') {
            Some((head, size)) if head.ends_with(" blob") => size.parse::<usize>().ok(),
            _ => None,
        };
        let Some(size) = size else {
            if header.is_empty() {
                return Err(BaselineError(format!("git cat-file stopped before {commit}:{path}")));
            }
            out.push(None);
            continue;
        };
        let mut body = vec![0; size + 1];
        reader.read_exact(&mut body).map_err(fail)?;
        body.pop();
        out.push(Some(String::from_utf8_lossy(&body).into_owned()));
    }
    drop(reader);
    let _ = writer.join();
    let _ = child.wait();
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
        if Path::new(spec).is_file() { Source::File(PathBuf::from(spec)) } else { Source::Revision(spec.to_string()) }
    }
}

/// A catalog named on the command line as a file or as `REV:path`.
pub fn read_spec(spec: &str) -> Result<(String, String), BaselineError> {
    if Path::new(spec).is_file() {
        return std::fs::read_to_string(spec).map(|t| (spec.to_string(), t)).map_err(|e| BaselineError(format!("cannot read {spec}: {e}")));
    }
    if let Some((rev, file)) = spec.split_once(':').filter(|(r, f)| !r.is_empty() && !f.is_empty()) {
        return match read_at(Path::new(file), rev)? {
            Some(text) => Ok((file.to_string(), text)),
            None => Err(BaselineError(format!("{file} does not exist at `{rev}`"))),
        };
    }
    Err(BaselineError(format!(
        "cannot read {spec}: no such file; name a catalog file, or `REV:path` for one in git (`HEAD~1:events.yaml`)"
    )))
}

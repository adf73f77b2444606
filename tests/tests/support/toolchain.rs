//! The non-Rust tools of the export tests — node with typescript, zod and
//! `@asyncapi/parser`, and a Python with pydantic, mypy and jsonschema — as
//! `scripts/toolchains.sh` installs them and `scripts/test.sh` exports them
//! (`HERALD_NODE_MODULES`, `HERALD_PYTHON`).
//!
//! Without them a test fails and says how to get them: an export that no
//! real tool has checked must not pass for one that has.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Where the tools are.
pub struct Toolchain {
    /// `codegen/tests/toolchain/node_modules`.
    pub node_modules: PathBuf,
    /// The venv's `python`.
    pub python: PathBuf,
}

/// The committed scripts and lockfiles of the toolchain.
pub fn toolchain_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../codegen/tests/toolchain")
}

impl Toolchain {
    /// The tools named by the environment, or a panic saying how to install them.
    pub fn from_env() -> Toolchain {
        let var = |name: &str, what: &str| -> PathBuf {
            match std::env::var_os(name) {
                Some(v) if Path::new(&v).exists() => PathBuf::from(v),
                Some(v) => panic!("{name}={} does not exist; run `bash scripts/test.sh`, which installs {what}", v.to_string_lossy()),
                None => panic!(
                    "{name} is not set: this test runs {what} on Herald's exports; run it through `bash scripts/test.sh` \
                     (it installs them, see scripts/toolchains.sh), or `. scripts/toolchains.sh && toolchains_install` \
                     before `cargo test`"
                ),
            }
        };
        Toolchain {
            node_modules: var("HERALD_NODE_MODULES", "node packages (typescript, zod, @asyncapi/parser)"),
            python: var("HERALD_PYTHON", "a Python with pydantic, mypy and jsonschema"),
        }
    }

    /// A fresh directory under the target dir for one test's files, with
    /// `node_modules` linked in so that `import { z } from "zod"` resolves.
    pub fn scratch(&self, name: &str) -> PathBuf {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("exports-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the scratch directory");
        std::os::unix::fs::symlink(&self.node_modules, dir.join("node_modules")).expect("link node_modules");
        std::fs::write(dir.join("package.json"), "{\"type\": \"module\"}\n").expect("write package.json");
        dir
    }

    /// `tsc` with the given arguments, in `dir`.
    pub fn tsc(&self, dir: &Path, args: &[&str]) -> Output {
        let tsc = self.node_modules.join("typescript/bin/tsc");
        run(Command::new("node").arg(tsc).args(args).current_dir(dir))
    }

    /// `node` running one of the toolchain's scripts.
    pub fn node_script(&self, dir: &Path, script: &str, args: &[&Path]) -> Output {
        run(Command::new("node").arg(toolchain_dir().join(script)).args(args).current_dir(dir))
    }

    /// The venv's python with the given arguments, in `dir`.
    pub fn python(&self, dir: &Path, args: &[&str]) -> Output {
        run(Command::new(&self.python).args(args).current_dir(dir))
    }
}

fn run(command: &mut Command) -> Output {
    command.output().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

/// The output of a tool as text, for failure messages.
pub fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

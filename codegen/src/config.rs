//! `Config`: the build-script API.

use std::path::{Path, PathBuf};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::emit::{self, EmitOptions};
use crate::ir::Catalog;
use crate::{catalog, site, write};

/// Configures code generation from a catalog file, prost-build style.
///
/// ```no_run
/// // build.rs
/// herald_codegen::Config::new()
///     .catalog("events.yaml")
///     .compile()
///     .unwrap_or_else(|e| panic!("{e}"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Config {
    catalog: Option<PathBuf>,
    out_dir: Option<PathBuf>,
    file_name: Option<String>,
    emit: EmitOptions,
    cargo_directives: bool,
    site: bool,
}

impl Config {
    /// A configuration with defaults: output to `$OUT_DIR/events.rs`,
    /// Herald at `::herald`, `cargo:rerun-if-changed` printed.
    pub fn new() -> Self {
        Config { cargo_directives: true, ..Config::default() }
    }

    /// The catalog file to compile (relative paths resolve against the
    /// current directory, which is the crate root in a build script).
    ///
    /// ```no_run
    /// herald_codegen::Config::new().catalog("../events.yaml");
    /// ```
    pub fn catalog(&mut self, path: impl AsRef<Path>) -> &mut Self {
        self.catalog = Some(path.as_ref().to_path_buf());
        self
    }

    /// Where to write the generated file (default: `$OUT_DIR`).
    ///
    /// ```no_run
    /// herald_codegen::Config::new().out_dir("src/generated");
    /// ```
    pub fn out_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.out_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Name of the generated file without `.rs` (default: the catalog's
    /// file stem, so `events.yaml` → `events.rs`).
    ///
    /// ```no_run
    /// herald_codegen::Config::new().file_name("orchestrator_events");
    /// ```
    pub fn file_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.file_name = Some(name.into());
        self
    }

    /// Path of the Herald runtime as seen from generated code (default
    /// `::herald`), for crates that re-export it under another name.
    ///
    /// ```no_run
    /// herald_codegen::Config::new().herald_path("::my_sdk::herald");
    /// ```
    pub fn herald_path(&mut self, path: impl Into<String>) -> &mut Self {
        self.emit.herald_path = path.into();
        self
    }

    /// Whether to print `cargo:rerun-if-changed` (default: on).
    ///
    /// ```no_run
    /// herald_codegen::Config::new().cargo_directives(false);
    /// ```
    pub fn cargo_directives(&mut self, on: bool) -> &mut Self {
        self.cargo_directives = on;
        self
    }

    /// Whether [`Config::compile`] also renders the catalog's served site
    /// into `{out_dir}/{file_name}_site.rs` (default: off): the catalog
    /// pages and assets, a lifecycle diagram per status and the JSON Schema
    /// export, which `herald_server::include_site!("events")` serves.
    ///
    /// ```no_run
    /// herald_codegen::Config::new().catalog("events.yaml").site(true).compile().unwrap();
    /// ```
    pub fn site(&mut self, on: bool) -> &mut Self {
        self.site = on;
        self
    }

    /// Generate the Rust source for the configured catalog as one file
    /// (each domain's module inline), without writing.
    pub fn generate(&self) -> Result<String, Diagnostics> {
        let (_, emitted, name) = self.emit()?;
        write::render(emitted.inline(), &name).map_err(|e| single(&e))
    }

    /// Load and emit the configured catalog; also the name the generated
    /// files' header gives it.
    fn emit(&self) -> Result<(Catalog, emit::Emitted, String), Diagnostics> {
        let path = self.catalog.as_deref().ok_or_else(|| single("no catalog configured; call `.catalog(\"events.yaml\")` first"))?;
        if self.cargo_directives {
            println!("cargo:rerun-if-changed={}", path.display());
        }
        let catalog = catalog::load(path)?;
        let emitted = emit::emit_modules(&catalog, &self.emit)?;
        // The header names the file, not its path: output must not depend
        // on where the workspace lives.
        let name = path.file_name().map_or_else(|| catalog.source_name.clone(), |n| n.to_string_lossy().into_owned());
        Ok((catalog, emitted, name))
    }

    /// Generate and write `{out_dir}/{file_name}.rs`, which includes one
    /// file per module from `{out_dir}/{file_name}/`; returns the root
    /// file's path.
    ///
    /// Each file is rewritten only when its text changes, so after an edit
    /// of one event type rustc finds the other modules' files untouched.
    pub fn compile(&self) -> Result<PathBuf, Diagnostics> {
        let (catalog, emitted, name) = self.emit()?;
        let out_dir = match &self.out_dir {
            Some(d) => d.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or_else(|| single("`OUT_DIR` is not set; call `.out_dir(…)` when not running in a build script"))?,
        };
        let stem = self.file_name.clone().unwrap_or_else(|| {
            self.catalog
                .as_deref()
                .and_then(Path::file_stem)
                .map_or_else(|| "events".to_string(), |s| s.to_string_lossy().replace(['-', '.'], "_"))
        });
        if self.site {
            let path = out_dir.join(format!("{stem}_site.rs"));
            write::write_if_changed(&path, &site::served::source(&catalog, &name))
                .map_err(|e| single(&format!("cannot write `{}`: {e}", path.display())))?;
        }
        write::write_split(&emitted, &out_dir, &stem, &name).map_err(|e| single(&e))
    }
}

fn single(msg: &str) -> Diagnostics {
    Diagnostics(vec![Diagnostic::new("herald-codegen", 0, 0, msg)])
}

/// Generate Rust source for a catalog file with default options.
pub fn generate_file(path: &Path) -> Result<String, Diagnostics> {
    Config::new().cargo_directives(false).catalog(path).generate()
}

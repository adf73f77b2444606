//! `herald new ai.domain.action`: append a new event type to a catalog
//! file (herald-codegen's `scaffold` edits the text) and say what comes
//! next.

use std::io::Write;
use std::path::Path;

use herald_codegen::__private::scaffold;

/// `herald new`: add the type to the catalog file and say what comes next.
pub fn run(type_name: &str, fields: Option<&str>, path: &Path, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let file = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            let _ = writeln!(err, "error: cannot read {file}: {e}; give the catalog with `--catalog PATH`");
            return 2;
        }
    };
    let added = match scaffold::add_event(&file, &text, type_name, fields.unwrap_or("")) {
        Ok(a) => a,
        Err(problems) => {
            for p in problems {
                let _ = writeln!(err, "error: {p}");
            }
            return 1;
        }
    };
    if let Err(e) = std::fs::write(path, &added.text) {
        let _ = writeln!(err, "error: cannot write {file}: {e}");
        return 2;
    }
    for n in &added.notes {
        let _ = writeln!(out, "note: {n}");
    }
    let handler: String = added.handler.lines().map(|l| format!("    {l}\n")).collect();
    let _ = write!(
        out,
        "added `{type_name}` to {file}:{}\n\nnext: write its description, run `cargo build`, and implement the handler method the compiler asks for:\n\n{handler}",
        added.line
    );
    0
}

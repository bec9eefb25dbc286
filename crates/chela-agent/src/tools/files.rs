//! `read`, `write`, `edit` and `list`: file tools confined to the workspace.

use serde::Deserialize;
use serde_json::Value;

use chela_sandbox::fs::EntryKind;

use super::{parse_args, ToolContext, ToolOutcome};

/// Largest file `read`/`edit` will load.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// Default number of lines returned by `read`.
const DEFAULT_READ_LINES: usize = 2000;

#[derive(Deserialize)]
struct ReadArgs {
    path: String,
    #[serde(default)]
    offset: Option<usize>,
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Deserialize)]
struct WriteArgs {
    path: String,
    content: String,
}

#[derive(Deserialize)]
struct EditArgs {
    path: String,
    old_string: String,
    new_string: String,
}

#[derive(Deserialize)]
struct ListArgs {
    #[serde(default)]
    path: Option<String>,
}

pub(super) fn run(ctx: &ToolContext, name: &str, args: &Value) -> ToolOutcome {
    let result = match name {
        "read" => parse_args::<ReadArgs>(name, args).and_then(|a| read(ctx, a)),
        "write" => parse_args::<WriteArgs>(name, args).and_then(|a| write(ctx, a)),
        "edit" => parse_args::<EditArgs>(name, args).and_then(|a| edit(ctx, a)),
        _ => parse_args::<ListArgs>(name, args).and_then(|a| list(ctx, a)),
    };
    result.unwrap_or_else(|e| e)
}

fn load_text(ctx: &ToolContext, path: &str) -> Result<String, ToolOutcome> {
    let file = ctx
        .workspace
        .read(path, MAX_FILE_BYTES)
        .map_err(|e| ToolOutcome::error(e.to_string()))?;
    if file.total_len > file.bytes.len() as u64 {
        return Err(ToolOutcome::error(format!(
            "{} is {} bytes, more than the {MAX_FILE_BYTES}-byte limit for reading; use exec with head/tail/grep instead",
            ctx.workspace.display_path(path),
            file.total_len
        )));
    }
    if file.bytes.contains(&0) {
        return Err(ToolOutcome::error(format!(
            "{} looks like a binary file; use exec (e.g. `xxd | head`) to inspect it",
            ctx.workspace.display_path(path)
        )));
    }
    String::from_utf8(file.bytes).map_err(|_| {
        ToolOutcome::error(format!(
            "{} is not valid UTF-8 text",
            ctx.workspace.display_path(path)
        ))
    })
}

fn read(ctx: &ToolContext, a: ReadArgs) -> Result<ToolOutcome, ToolOutcome> {
    let text = load_text(ctx, &a.path)?;
    let offset = a.offset.unwrap_or(1).max(1);
    let limit = a.limit.unwrap_or(DEFAULT_READ_LINES).max(1);
    let total = text.lines().count();
    if a.offset.is_none() && a.limit.is_none() && total <= DEFAULT_READ_LINES {
        return Ok(ToolOutcome::ok(text, ctx.output_chars));
    }
    if offset > total.max(1) {
        return Err(ToolOutcome::error(format!(
            "offset {offset} is past the end of the file ({total} lines)"
        )));
    }
    let slice: Vec<&str> = text.lines().skip(offset - 1).take(limit).collect();
    let last = offset - 1 + slice.len();
    let mut out = slice.join("\n");
    if last < total || offset > 1 {
        out.push_str(&format!(
            "\n[lines {offset}-{last} of {total}; use offset/limit to read more]"
        ));
    }
    Ok(ToolOutcome::ok(out, ctx.output_chars))
}

fn write(ctx: &ToolContext, a: WriteArgs) -> Result<ToolOutcome, ToolOutcome> {
    ctx.workspace
        .write(&a.path, a.content.as_bytes())
        .map_err(|e| ToolOutcome::error(e.to_string()))?;
    Ok(ToolOutcome::ok(
        format!(
            "wrote {} bytes to {}",
            a.content.len(),
            ctx.workspace.display_path(&a.path)
        ),
        ctx.output_chars,
    ))
}

fn edit(ctx: &ToolContext, a: EditArgs) -> Result<ToolOutcome, ToolOutcome> {
    if a.old_string.is_empty() {
        return Err(ToolOutcome::error(
            "old_string must not be empty; use write to create a file",
        ));
    }
    let text = load_text(ctx, &a.path)?;
    let count = text.matches(&a.old_string).count();
    let shown = ctx.workspace.display_path(&a.path);
    match count {
        0 => Err(ToolOutcome::error(format!(
            "old_string was not found in {shown}; read the file and copy the exact text"
        ))),
        1 => {
            let updated = text.replacen(&a.old_string, &a.new_string, 1);
            ctx.workspace
                .write(&a.path, updated.as_bytes())
                .map_err(|e| ToolOutcome::error(e.to_string()))?;
            Ok(ToolOutcome::ok(format!("edited {shown}"), ctx.output_chars))
        }
        n => Err(ToolOutcome::error(format!(
            "old_string appears {n} times in {shown}; include more surrounding text so it is unique"
        ))),
    }
}

fn list(ctx: &ToolContext, a: ListArgs) -> Result<ToolOutcome, ToolOutcome> {
    let path = a.path.unwrap_or_else(|| ".".into());
    let entries = ctx
        .workspace
        .list(&path)
        .map_err(|e| ToolOutcome::error(e.to_string()))?;
    let mut out = String::new();
    for e in &entries {
        let line = match e.kind {
            EntryKind::Dir => format!("{}/\n", e.name),
            EntryKind::Symlink => format!("{}@\n", e.name),
            EntryKind::File => format!("{}\t{} bytes\n", e.name, e.size),
            EntryKind::Other => format!("{}\t(special)\n", e.name),
        };
        out.push_str(&line);
    }
    if entries.is_empty() {
        out = format!("{} is empty", ctx.workspace.display_path(&path));
    }
    Ok(ToolOutcome::ok(out, ctx.output_chars))
}

//! import and export: many secrets of a scope in one command, over one pooled client.

use std::collections::VecDeque;
use std::fs::File;
use std::future::Future;
use std::io::{self, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context as _, bail};
use clap::Args;

use super::{ScopeName, check_scope_name};
use crate::api;
use crate::api::SecretValue;
use crate::cli::{Connection, Context, usage_error};
use crate::formats::{self, Entry, FileFormat};
use crate::output;

#[derive(Args, Debug)]
#[command(
    after_help = "A .env file has one KEY=VALUE per line, optionally after `export `; \
    lines starting with # are comments. Values may be 'single-quoted' (literal) or \
    \"double-quoted\" (with \\n, \\r, \\t, \\\", \\\\, \\$ and \\xNN escapes) or $'...' \
    (as in bash); all may span lines, and quoted pieces next to each other are joined, as in \
    'it'\\''s'. Files over 787456000 bytes are refused. A JSON file is one object: \
    {\"KEY\": \"value\"}, or {\"KEY\": {\"bytes_value\": \"<base64>\"}} for binary values. \
    Every entry is checked before any is sent: if one is invalid, nothing is imported. Values \
    are never printed."
)]
pub struct Import {
    /// Scope to put the secrets in
    #[arg(long)]
    scope: Option<String>,

    /// The scope, instead of --scope
    #[arg(value_name = "SCOPE")]
    scope_argument: Option<String>,

    /// The .env or JSON file to read; '-' or none reads standard input
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,

    /// File format; by default from the file's extension, else from its content
    #[arg(long, value_enum, ignore_case = true)]
    format: Option<FileFormat>,

    /// How many secrets to put at the same time
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    concurrency: u16,
}

impl Import {
    pub async fn run(self, context: &Context) -> anyhow::Result<()> {
        let (scope, file) = scope_and_file(self.scope, self.scope_argument, self.file)?;
        check_scope_name(&scope)?;
        let (content, source) = read_import_file(file.as_ref())?;
        let format = formats::detect_format(self.format, file.as_deref(), &content);
        let entries = formats::parse(format, &content).map_err(|problems| {
            for problem in &problems {
                eprintln!("{source}: {problem}");
            }
            anyhow::anyhow!(
                "nothing was imported: {} problem(s) in {source}; fix them and run the import again",
                problems.len()
            )
        })?;
        let connection = context.connect()?;
        let started = Instant::now();
        let total = entries.len();
        let mut progress = Progress::new("Importing", total);
        let client = connection.client.clone();
        // Set by the first answer that every other put would get too; later puts are skipped.
        let stopped = Arc::new(AtomicBool::new(false));
        let results = run_concurrently(
            entries,
            usize::from(self.concurrency),
            move |entry: Entry| {
                let client = client.clone();
                let scope = scope.clone();
                let stopped = stopped.clone();
                async move {
                    if stopped.load(Ordering::SeqCst) {
                        return (entry.key, None);
                    }
                    let result = client.put_secret(&scope, &entry.key, &entry.value).await;
                    if result.as_ref().is_err_and(fails_every_put) {
                        stopped.store(true, Ordering::SeqCst);
                    }
                    (entry.key, Some(result))
                }
            },
            |_| progress.advance(),
        )
        .await;
        progress.finish();
        let imported = results
            .iter()
            .filter(|(_, result)| matches!(result, Some(Ok(()))))
            .count();
        eprintln!(
            "Imported {imported} of {total} secrets in {:.2} s",
            started.elapsed().as_secs_f64()
        );
        let mut failures: Vec<(String, api::Error)> = results
            .into_iter()
            .filter_map(|(key, result)| result?.err().map(|error| (key, error)))
            .collect();
        if let Some(at) = failures
            .iter()
            .position(|(_, error)| fails_every_put(error))
        {
            let (_, reason) = failures.swap_remove(at);
            return Err(connection.explain(reason).context(format!(
                "{imported} of {total} secrets were imported; the import stopped at the first \
                 answer that every secret would get"
            )));
        }
        if failures.is_empty() {
            return Ok(());
        }
        for (key, error) in &failures {
            eprintln!("  {key}: {error}");
        }
        Err(import_failure(&connection, failures, total))
    }
}

/// An answer that says no put to this scope can succeed: the scope does not exist (a put
/// creates keys, so a missing resource is the scope), or the credentials are rejected (401)
/// or lack the permission (403).
fn fails_every_put(error: &api::Error) -> bool {
    matches!(error.status(), Some(401 | 403))
        || error.error_code() == Some("RESOURCE_DOES_NOT_EXIST")
}

/// The error for an import where some puts failed: it names the failed keys, and gives the
/// reason with its hint when all of them failed the same way.
fn import_failure(
    connection: &Connection,
    mut failures: Vec<(String, api::Error)>,
    total: usize,
) -> anyhow::Error {
    let keys: Vec<&str> = failures.iter().map(|(key, _)| key.as_str()).collect();
    let summary = format!(
        "{} of {total} secrets were not imported ({})",
        failures.len(),
        keys.join(", ")
    );
    let first_reason = failures[0].1.to_string();
    if failures
        .iter()
        .all(|(_, error)| error.to_string() == first_reason)
    {
        let (_, reason) = failures.swap_remove(0);
        return connection.explain(reason).context(summary);
    }
    anyhow::anyhow!("{summary}; the reason for each is listed above")
}

/// `import --scope S FILE`, `import S FILE`, `import S` (stdin): clap fills positionals from the
/// left, so with `--scope` the first positional is the file.
fn scope_and_file(
    option: Option<String>,
    first: Option<String>,
    second: Option<PathBuf>,
) -> anyhow::Result<(String, Option<PathBuf>)> {
    match (option, first, second) {
        (Some(scope), None, None) => Ok((scope, None)),
        (Some(scope), Some(file), None) => Ok((scope, Some(PathBuf::from(file)))),
        (Some(_), Some(_), Some(_)) => Err(usage_error(
            "the scope was given twice, as --scope and as a positional argument; give it once",
        )),
        (None, Some(scope), file) => Ok((scope, file)),
        (None, None, _) | (Some(_), None, Some(_)) => Err(usage_error(
            "the scope is missing: give it as --scope SCOPE or as the positional argument SCOPE",
        )),
    }
}

/// The file's bytes and a name for messages; none or `-` is standard input. Neither is read
/// past [`formats::MAX_FILE_BYTES`], so a huge file or an endless pipe cannot fill the memory.
fn read_import_file(file: Option<&PathBuf>) -> anyhow::Result<(Vec<u8>, String)> {
    let (content, source) = match file.filter(|path| path.as_os_str() != "-") {
        Some(path) => {
            let source = path.display().to_string();
            let file = File::open(path).with_context(|| format!("cannot read {source}"))?;
            if file
                .metadata()
                .is_ok_and(|metadata| metadata.len() > formats::MAX_FILE_BYTES)
            {
                bail!(too_large(&source));
            }
            let content = read_bounded(file).with_context(|| format!("cannot read {source}"))?;
            (content, source)
        }
        None => {
            let stdin = io::stdin();
            if stdin.is_terminal() {
                bail!("no file to import: give a FILE, or pipe a .env or JSON file on stdin");
            }
            let content = read_bounded(stdin.lock()).context("cannot read standard input")?;
            (content, "stdin".to_string())
        }
    };
    if content.len() as u64 > formats::MAX_FILE_BYTES {
        bail!(too_large(&source));
    }
    Ok((content, source))
}

/// Reads at most one byte more than an import file can hold, so an oversized one is recognised.
fn read_bounded(source: impl Read) -> io::Result<Vec<u8>> {
    let mut content = Vec::new();
    source
        .take(formats::MAX_FILE_BYTES + 1)
        .read_to_end(&mut content)?;
    Ok(content)
}

fn too_large(source: &str) -> String {
    format!(
        "{source} is larger than any valid import file (over {} bytes: {}); nothing was \
         imported: check that it is the file you meant",
        formats::MAX_FILE_BYTES,
        formats::max_file_bytes_reason()
    )
}

#[derive(Args, Debug)]
#[command(
    after_help = "A .env export is safe to source: no value is ever expanded or run. Values \
    are written 'single-quoted', or \"double-quoted\" with \\ before \\, \" and $ when they \
    hold a single quote or end in a backslash; values with control characters or bytes that \
    are not UTF-8, or with both ' and `, are written as $'...' with \\xNN escapes after a \
    line ''\\ (bash and zsh read them exactly, up to a NUL byte; docker compose refuses that \
    line). Keys that are not shell names are written after `export `, so a shell refuses \
    them. In JSON, values that are not UTF-8 are written as {\"bytes_value\": \"<base64>\"}. \
    import restores the exact bytes of both."
)]
pub struct Export {
    #[command(flatten)]
    scope: ScopeName,

    /// File format written to standard output
    #[arg(long, value_enum, ignore_case = true, default_value = "env")]
    format: FileFormat,

    /// How many values to fetch at the same time
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    concurrency: u16,
}

impl Export {
    pub async fn run(self, context: &Context) -> anyhow::Result<()> {
        let scope = self.scope.resolve()?;
        if io::stdout().is_terminal() {
            eprintln!(
                "Warning: secret values are printed to the terminal; redirect the output to a \
                 file (> secrets.env) or pipe it to `databricks secrets import`"
            );
        }
        let connection = context.connect()?;
        let listed = connection
            .client
            .list_secrets(&scope)
            .await
            .map_err(|error| connection.explain(error))?;
        let keys: Vec<String> = listed
            .data
            .secrets
            .into_iter()
            .map(|secret| secret.key)
            .collect();
        let mut progress = Progress::new("Exporting", keys.len());
        let client = connection.client.clone();
        let fetched = run_concurrently(
            keys,
            usize::from(self.concurrency),
            move |key: String| {
                let client = client.clone();
                let scope = scope.clone();
                async move { client.get_secret(&scope, &key).await }
            },
            |_| progress.advance(),
        )
        .await;
        progress.finish();
        let mut entries = Vec::with_capacity(fetched.len());
        for reply in fetched {
            let content = reply.map_err(|error| connection.explain(error))?.data;
            entries.push(Entry {
                key: content.key,
                value: SecretValue::from_bytes(content.value.expose().to_vec()),
                line: 0,
            });
        }
        output::write_stdout(&formats::write(self.format, &entries))?;
        Ok(())
    }
}

/// Runs `operation` on every item with at most `concurrency` of them in flight, calls
/// `on_result` as each one finishes, and returns the results in the items' order.
async fn run_concurrently<T, R, F, Fut>(
    items: Vec<T>,
    concurrency: usize,
    operation: F,
    mut on_result: impl FnMut(&R),
) -> Vec<R>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send,
{
    let count = items.len();
    let queue = Arc::new(Mutex::new(
        items.into_iter().enumerate().collect::<VecDeque<_>>(),
    ));
    let operation = Arc::new(operation);
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..concurrency.min(count) {
        let (queue, operation, sender) = (queue.clone(), operation.clone(), sender.clone());
        tokio::spawn(async move {
            while let Some((index, item)) = next_item(&queue) {
                let result = operation(item).await;
                if sender.send((index, result)).is_err() {
                    break;
                }
            }
        });
    }
    drop(sender);
    let mut results: Vec<Option<R>> = (0..count).map(|_| None).collect();
    while let Some((index, result)) = receiver.recv().await {
        on_result(&result);
        results[index] = Some(result);
    }
    results.into_iter().flatten().collect()
}

fn next_item<T>(queue: &Mutex<VecDeque<(usize, T)>>) -> Option<(usize, T)> {
    queue
        .lock()
        .map(|mut queue| queue.pop_front())
        .unwrap_or(None)
}

/// A one-line progress bar on stderr, drawn only when stderr is a terminal.
struct Progress {
    label: &'static str,
    done: usize,
    total: usize,
    visible: bool,
}

impl Progress {
    fn new(label: &'static str, total: usize) -> Progress {
        Progress {
            label,
            done: 0,
            total,
            visible: io::stderr().is_terminal() && total > 0,
        }
    }

    fn advance(&mut self) {
        self.done += 1;
        if self.visible {
            const WIDTH: usize = 30;
            let filled = WIDTH * self.done / self.total;
            let bar = format!("{}{}", "#".repeat(filled), "-".repeat(WIDTH - filled));
            eprint!("\r{} [{bar}] {}/{}", self.label, self.done, self.total);
            let _ = io::stderr().flush();
        }
    }

    fn finish(&self) {
        if self.visible {
            eprint!("\r\x1b[2K");
        }
    }
}

//! import and export, and what they share with sync: the file of entries, the scheduled
//! requests over one client with their status line, and the writes with their report.

use std::fs::File;
use std::future::Future;
use std::io::{self, IsTerminal, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context as _, bail};
use clap::Args;

use super::progress::StatusLine;
use super::scheduler::{self, Scheduler};
use super::{ScopeName, check_scope_name};
use crate::api::{self, SecretValue};
use crate::cli::{Connection, Context, usage_error};
use crate::formats::{self, Entry, FileFormat};
use crate::output;

/// The scope and the file of import and sync.
#[derive(Args, Debug)]
pub(super) struct ScopeAndFile {
    /// The scope
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
}

impl ScopeAndFile {
    /// The scope and every entry of the file, all checked before anything is sent; a file
    /// with problems lists them on stderr and fails saying that nothing was done.
    pub(super) fn read(self, wording: &Wording) -> anyhow::Result<(String, Vec<Entry>)> {
        let (scope, file) = scope_and_file(self.scope, self.scope_argument, self.file)?;
        check_scope_name(&scope)?;
        let (content, source) = read_import_file(file.as_ref())?;
        let format = formats::detect_format(self.format, file.as_deref(), &content);
        let entries = formats::parse(format, &content).map_err(|problems| {
            for problem in &problems {
                eprintln!("{source}: {problem}");
            }
            anyhow::anyhow!(
                "nothing was {}: {} problem(s) in {source}; fix them and run the {} again",
                wording.done,
                problems.len(),
                wording.command
            )
        })?;
        Ok((scope, entries))
    }
}

/// `--concurrency`, shared by import, export and sync.
#[derive(Args, Debug)]
pub(super) struct Concurrency {
    /// Pin the number of requests in flight to N (by default it is found while running:
    /// 8 to start, halved when the workspace throttles, at most 64)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    concurrency: Option<u16>,
}

/// The requests of one bulk command: one client whose events (throttled answers, retry
/// notices, debug lines) reach the scheduler and are printed through the status line.
pub(super) struct Bulk {
    pub connection: Connection,
    scheduler: Arc<Scheduler>,
    status: Arc<StatusLine>,
    debug: bool,
}

impl Bulk {
    pub(super) fn connect(context: &Context, concurrency: Concurrency) -> anyhow::Result<Bulk> {
        let scheduler = Arc::new(Scheduler::new(concurrency.concurrency.map(usize::from)));
        let status = Arc::new(StatusLine::new());
        let debug = context.debug();
        let observer: api::Observer = {
            let (scheduler, status) = (scheduler.clone(), status.clone());
            Arc::new(move |event: &api::Event| {
                if let api::Event::Retry {
                    throttled: true,
                    delay,
                    ..
                } = event
                {
                    let change = scheduler.throttled(*delay);
                    if debug {
                        status.print(&format!("scheduler: {change}"));
                    }
                    status.update(scheduler.concurrency(), scheduler.throttled_count());
                }
                status.print(&event.to_string());
            })
        };
        let connection = context.connect_observed(observer)?;
        Ok(Bulk {
            connection,
            scheduler,
            status,
            debug,
        })
    }

    pub(super) fn client(&self) -> &api::Client {
        &self.connection.client
    }

    /// Runs `operation` on every item through the scheduler under a progress bar labelled
    /// `label`; returns every result in the items' order.
    pub(super) async fn run<T, R, Fut>(
        &self,
        label: &'static str,
        items: Vec<T>,
        operation: impl Fn(T) -> Fut,
    ) -> Vec<R>
    where
        Fut: Future<Output = R>,
    {
        let scheduler = &self.scheduler;
        self.status
            .start(label, items.len(), scheduler.concurrency());
        let on_change = |change: &scheduler::Change| {
            if self.debug {
                self.status.print(&format!("scheduler: {change}"));
            }
        };
        let results = scheduler
            .run(
                items,
                operation,
                |_| {
                    self.status
                        .advance(scheduler.concurrency(), scheduler.throttled_count())
                },
                &on_change,
            )
            .await;
        self.status.finish();
        if self.debug {
            eprintln!(
                "scheduler: {label} done at concurrency {}, {} throttled answer(s)",
                scheduler.concurrency(),
                scheduler.throttled_count()
            );
        }
        results
    }
}

/// A change to one key of a scope.
pub(super) enum Write {
    Put(Entry),
    Delete(String),
}

impl Write {
    fn key(&self) -> &str {
        match self {
            Write::Put(entry) => &entry.key,
            Write::Delete(key) => key,
        }
    }
}

/// How the report of a command's writes names them: "imported", "secrets", "import".
pub(super) struct Wording {
    pub done: &'static str,
    pub things: &'static str,
    pub command: &'static str,
}

pub(super) const IMPORT_WORDING: Wording = Wording {
    done: "imported",
    things: "secrets",
    command: "import",
};

/// Sends every write through the scheduler and reports: a summary line on stderr, and an
/// error naming the keys that failed. At the first answer that every other write would get
/// too (no scope, 401, 403), the writes not yet sent are skipped.
pub(super) async fn send_writes(
    bulk: &Bulk,
    label: &'static str,
    scope: &str,
    writes: Vec<Write>,
    wording: &Wording,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let total = writes.len();
    let stopped = AtomicBool::new(false);
    let results = bulk
        .run(label, writes, |write| {
            let stopped = &stopped;
            async move {
                if stopped.load(Ordering::SeqCst) {
                    return (write.key().to_owned(), None);
                }
                let result = match &write {
                    Write::Put(entry) => {
                        bulk.client()
                            .put_secret(scope, &entry.key, &entry.value)
                            .await
                    }
                    Write::Delete(key) => bulk.client().delete_secret(scope, key).await,
                };
                if result.as_ref().is_err_and(fails_every_put) {
                    stopped.store(true, Ordering::SeqCst);
                }
                (write.key().to_owned(), Some(result))
            }
        })
        .await;
    let succeeded = results
        .iter()
        .filter(|(_, result)| matches!(result, Some(Ok(()))))
        .count();
    let Wording {
        done,
        things,
        command,
    } = wording;
    eprintln!(
        "{} {succeeded} of {total} {things} in {:.2} s",
        capitalized(done),
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
        return Err(bulk.connection.explain(reason).context(format!(
            "{succeeded} of {total} {things} were {done}; the {command} stopped at the first \
             answer that every {} would get",
            things.trim_end_matches('s')
        )));
    }
    if failures.is_empty() {
        return Ok(());
    }
    for (key, error) in &failures {
        eprintln!("  {key}: {error}");
    }
    Err(write_failure(&bulk.connection, failures, total, wording))
}

fn capitalized(word: &str) -> String {
    let mut letters = word.chars();
    letters
        .next()
        .map(|first| first.to_uppercase().chain(letters).collect())
        .unwrap_or_default()
}

/// An answer that says no write to this scope can succeed: the scope does not exist (a put
/// creates keys, so a missing resource is the scope), or the credentials are rejected (401)
/// or lack the permission (403).
fn fails_every_put(error: &api::Error) -> bool {
    matches!(error.status(), Some(401 | 403))
        || error.error_code() == Some("RESOURCE_DOES_NOT_EXIST")
}

/// The error for writes of which some failed: it names the failed keys, and gives the
/// reason with its hint when all of them failed the same way.
fn write_failure(
    connection: &Connection,
    mut failures: Vec<(String, api::Error)>,
    total: usize,
    Wording { done, things, .. }: &Wording,
) -> anyhow::Error {
    let keys: Vec<&str> = failures.iter().map(|(key, _)| key.as_str()).collect();
    let summary = format!(
        "{} of {total} {things} were not {done} ({})",
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
    #[command(flatten)]
    source: ScopeAndFile,

    #[command(flatten)]
    concurrency: Concurrency,
}

impl Import {
    pub async fn run(self, context: &Context) -> anyhow::Result<()> {
        let (scope, entries) = self.source.read(&IMPORT_WORDING)?;
        let bulk = Bulk::connect(context, self.concurrency)?;
        let writes = entries.into_iter().map(Write::Put).collect();
        send_writes(&bulk, "Importing", &scope, writes, &IMPORT_WORDING).await
    }
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

    #[command(flatten)]
    concurrency: Concurrency,
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
        let bulk = Bulk::connect(context, self.concurrency)?;
        let keys = list_keys(&bulk, &scope).await?;
        let entries = read_values(&bulk, "Exporting", &scope, keys)
            .await
            .into_iter()
            .map(|(key, value)| {
                let value = value.map_err(|error| bulk.connection.explain(error))?;
                Ok(Entry {
                    key,
                    value,
                    line: 0,
                })
            })
            .collect::<anyhow::Result<Vec<Entry>>>()?;
        output::write_stdout(&formats::write(self.format, &entries))?;
        Ok(())
    }
}

/// The keys of a scope, in the order listed.
pub(super) async fn list_keys(bulk: &Bulk, scope: &str) -> anyhow::Result<Vec<String>> {
    let listed = bulk
        .connection
        .call(bulk.client().list_secrets(scope))
        .await?;
    Ok(listed
        .data
        .secrets
        .into_iter()
        .map(|secret| secret.key)
        .collect())
}

/// The current value of every key, read through the scheduler, in the keys' order.
pub(super) async fn read_values(
    bulk: &Bulk,
    label: &'static str,
    scope: &str,
    keys: Vec<String>,
) -> Vec<(String, Result<SecretValue, api::Error>)> {
    bulk.run(label, keys, |key| async move {
        let value = bulk
            .client()
            .get_secret(scope, &key)
            .await
            .map(|reply| SecretValue::from_bytes(reply.data.value.expose().to_vec()));
        (key, value)
    })
    .await
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

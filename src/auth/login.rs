//! `databricks auth login` (U2M): the OAuth authorization code flow of the public client
//! `databricks-cli` with PKCE (S256) and a random `state`, answered on a loopback callback
//! server.
//!
//! The callback server binds 127.0.0.1 on the first free port of 8020–8040 and answers requests
//! one at a time: a request whose `state` is not this flow's gets a 400 page and the flow goes
//! on waiting (a stray tab, a favicon, a page probing local ports); the first one whose `state`
//! matches ends it, with a small success or error page. The authorization code and the PKCE
//! verifier appear in no log, page, error or command line; the caller bounds the whole flow
//! with its timeout.

use std::fmt;
use std::ops::RangeInclusive;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::error::AuthError;
use super::http::{Call, TokenHttp};
use super::token::Token;
use super::u2m::CLI_CLIENT_ID;
use crate::secret::Secret;

/// The ports the `databricks-cli` client may be redirected to, tried in order.
pub const CALLBACK_PORTS: RangeInclusive<u16> = 8020..=8040;

/// The scope asked for when none is given.
pub const DEFAULT_SCOPE: &str = "all-apis";

/// Asks for a refresh token; prepended to the scopes, as the Go CLI does.
const OFFLINE_ACCESS: &str = "offline_access";

/// How long one connection to the callback server may take to send its request line.
const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The most a callback request's head may hold; a browser's is far smaller.
const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// Where the success page points for more on the CLI.
const DOCUMENTATION: &str = "https://docs.databricks.com/dev-tools/index-cli.html";

/// The PKCE pair: the verifier stays in this process; only the challenge is sent with the
/// authorization request.
pub struct Pkce {
    verifier: Secret,
    challenge: String,
}

impl fmt::Debug for Pkce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkce")
            .field("challenge", &self.challenge)
            .finish_non_exhaustive()
    }
}

impl Pkce {
    /// A verifier of 64 random bytes (86 characters, as the Go CLI makes it) and its S256
    /// challenge.
    pub fn generate() -> Result<Pkce, AuthError> {
        let verifier = random_text(64)?;
        let challenge = URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()));
        Ok(Pkce {
            verifier: Secret::new(verifier),
            challenge,
        })
    }
}

/// A random `state` of 16 bytes, base64url.
pub fn random_state() -> Result<String, AuthError> {
    random_text(16)
}

fn random_text(bytes: usize) -> Result<String, AuthError> {
    let mut buffer = vec![0u8; bytes];
    SystemRandom::new().fill(&mut buffer).map_err(|_| {
        AuthError::Failed("the operating system gave no random numbers; try again".into())
    })?;
    Ok(URL_SAFE_NO_PAD.encode(buffer))
}

/// The scopes sent: `offline_access` first (for a refresh token), then the asked ones, or
/// `all-apis`.
pub fn requested_scopes(scopes: &[String]) -> String {
    let asked: Vec<&str> = if scopes.is_empty() {
        vec![DEFAULT_SCOPE]
    } else {
        scopes
            .iter()
            .map(String::as_str)
            .filter(|scope| *scope != OFFLINE_ACCESS)
            .collect()
    };
    std::iter::once(OFFLINE_ACCESS)
        .chain(asked)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The URL the browser opens, with the query keys sorted as Go's `url.Values.Encode` sorts them.
pub fn authorization_url(
    authorization_endpoint: &str,
    redirect_uri: &str,
    pkce: &Pkce,
    state: &str,
    scopes: &[String],
) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", CLI_CLIENT_ID)
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("response_type", "code")
        .append_pair("scope", &requested_scopes(scopes))
        .append_pair("state", state)
        .finish();
    let separator = if authorization_endpoint.contains('?') {
        '&'
    } else {
        '?'
    };
    format!("{authorization_endpoint}{separator}{query}")
}

/// The loopback server the identity provider redirects the browser to.
pub struct CallbackServer {
    listener: TcpListener,
    port: u16,
}

impl CallbackServer {
    /// Listens on 127.0.0.1 at the first free port of [`CALLBACK_PORTS`].
    pub async fn bind() -> Result<CallbackServer, AuthError> {
        let mut last_problem = None;
        for port in CALLBACK_PORTS {
            match TcpListener::bind(("127.0.0.1", port)).await {
                Ok(listener) => return Ok(CallbackServer { listener, port }),
                Err(error) => last_problem = Some(error),
            }
        }
        Err(AuthError::Failed(format!(
            "no port available to listen on: ports {}-{} on 127.0.0.1 are all in use ({}); \
             close what uses them (an earlier `databricks auth login`?) and try again",
            CALLBACK_PORTS.start(),
            CALLBACK_PORTS.end(),
            last_problem.map_or_else(String::new, |error| error.to_string())
        )))
    }

    /// `http://localhost:PORT`: no path and no trailing slash, the form the `databricks-cli`
    /// client registers.
    pub fn redirect_uri(&self) -> String {
        format!("http://localhost:{}", self.port)
    }

    /// Answers requests until one carries `state`: its authorization code, or the identity
    /// provider's refusal. `host` is linked from the page shown. Connections are read
    /// concurrently, so one that sends nothing (a browser's preconnect) delays no other.
    pub async fn wait_for_code(&self, state: &str, host: &str) -> Result<Secret, AuthError> {
        let (sender, mut requests) = tokio::sync::mpsc::channel::<(TcpStream, String)>(16);
        loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => read_in_background(stream, sender.clone()),
                    // Out of file descriptors, say: wait a little rather than spin.
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                },
                Some((mut stream, target)) = requests.recv() => {
                    if let Some(outcome) = answer(&mut stream, &target, state, host).await {
                        return outcome;
                    }
                }
            }
        }
    }
}

/// Reads the request target of one connection (within [`REQUEST_READ_TIMEOUT`]) and passes
/// both on; a connection that sends no request in time is dropped.
fn read_in_background(
    mut stream: TcpStream,
    sender: tokio::sync::mpsc::Sender<(TcpStream, String)>,
) {
    tokio::spawn(async move {
        let read = tokio::time::timeout(REQUEST_READ_TIMEOUT, read_target(&mut stream)).await;
        if let Ok(Some(target)) = read {
            let _ = sender.send((stream, target)).await;
        }
    });
}

/// Answers one request with its page; the flow's outcome when the request was this flow's.
async fn answer(
    stream: &mut TcpStream,
    target: &str,
    state: &str,
    host: &str,
) -> Option<Result<Secret, AuthError>> {
    let outcome = Callback::read(target, state);
    let (status, page) = match &outcome {
        Callback::Unrelated => (400, unrelated_page()),
        Callback::Code(_) => (200, success_page(host)),
        Callback::Refused { error, description } => (400, refusal_page(host, error, description)),
    };
    // The browser may already be gone; the flow's result does not depend on it.
    let _ = respond(stream, status, &page).await;
    match outcome {
        Callback::Unrelated => None,
        Callback::Code(code) => Some(Ok(code)),
        Callback::Refused { error, description } => Some(Err(AuthError::Failed(format!(
            "authorize: {error}: {description}; run `databricks auth login` again, or ask a \
             workspace admin why the login was refused"
        )))),
    }
}

/// What one request to the callback server says.
#[derive(Debug, PartialEq, Eq)]
enum Callback {
    /// Not this flow's `state`: answered with 400, and the flow goes on waiting.
    Unrelated,
    Code(Secret),
    Refused {
        error: String,
        description: String,
    },
}

impl Callback {
    /// Reads the request target (`/path?query`), comparing `state` in constant time.
    fn read(target: &str, expected_state: &str) -> Callback {
        let query = target.split_once('?').map_or("", |(_, query)| query);
        let mut state = None;
        let mut code = None;
        let mut error = None;
        let mut description = String::new();
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "state" => state = Some(value.into_owned()),
                "code" => code = Some(Secret::new(value.into_owned())),
                "error" => error = Some(value.into_owned()),
                "error_description" => description = value.into_owned(),
                _ => {}
            }
        }
        let matches = state.is_some_and(|state| same_in_constant_time(&state, expected_state));
        match (matches, error, code) {
            (false, _, _) => Callback::Unrelated,
            (true, Some(error), _) => Callback::Refused { error, description },
            (true, None, Some(code)) if !code.expose().is_empty() => Callback::Code(code),
            (true, None, _) => Callback::Refused {
                error: "invalid_request".into(),
                description: "the identity provider sent neither a code nor an error".into(),
            },
        }
    }
}

/// Compares without stopping at the first difference, so timing tells nothing of the state.
fn same_in_constant_time(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |difference, (x, y)| difference | (x ^ y))
            == 0
}

/// The request target of an HTTP request line, once the head has arrived.
async fn read_target(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 2048];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).await.ok()?;
        if read == 0 || head.len() + read > MAX_REQUEST_HEAD {
            return None;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let line = head.split(|byte| *byte == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?.trim_end();
    let mut words = line.split(' ');
    let (_method, target) = (words.next()?, words.next()?);
    Some(target.to_string())
}

async fn respond(stream: &mut TcpStream, status: u16, page: &str) -> std::io::Result<()> {
    let reason = if status == 200 { "OK" } else { "Bad Request" };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        page.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(page.as_bytes()).await?;
    stream.shutdown().await
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body style=\"font-family: sans-serif; margin: 3em\">{body}</body></html>\n"
    )
}

fn success_page(host: &str) -> String {
    let host = escape_html(host);
    page(
        "Success",
        &format!(
            "<h1>Authenticated</h1><p>The Databricks CLI is logged in to \
             <a href=\"{host}\">{host}</a>.</p><p>You can close this tab. Or go to \
             <a href=\"{DOCUMENTATION}\">documentation</a>.</p>"
        ),
    )
}

/// `access_denied` becomes the title `Access Denied`, as in the Go CLI's page.
fn refusal_page(host: &str, error: &str, description: &str) -> String {
    let title: Vec<String> = error
        .split('_')
        .map(|word| {
            let mut letters = word.chars();
            letters.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(letters).collect()
            })
        })
        .collect();
    let host = escape_html(host);
    page(
        &escape_html(&title.join(" ")),
        &format!(
            "<h1>Not logged in</h1><p>{}: {}</p><p>Run <code>databricks auth login</code> \
             again to retry. Workspace: <a href=\"{host}\">{host}</a></p>",
            escape_html(error),
            escape_html(description)
        ),
    )
}

fn unrelated_page() -> String {
    page(
        "Unknown request",
        "<h1>Not a current login</h1><p>This link does not belong to the login that is \
         waiting (state mismatch). Use the link the <code>databricks auth login</code> command \
         printed.</p>",
    )
}

fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// Trades the authorization code for tokens (the code and verifier are sent only here, in the
/// form body, which the debug log masks).
pub async fn exchange_code(
    http: &TokenHttp,
    token_endpoint: &str,
    code: &Secret,
    pkce: &Pkce,
    redirect_uri: &str,
) -> Result<Token, AuthError> {
    let form = vec![
        ("client_id", CLI_CLIENT_ID.to_string()),
        ("code", code.expose().to_string()),
        ("code_verifier", pkce.verifier.expose().to_string()),
        ("grant_type", "authorization_code".to_string()),
        ("redirect_uri", redirect_uri.to_string()),
    ];
    http.token(&Call::post_form(token_endpoint, form))
        .await
        .map_err(|error| error.with_fix(|_| Some("run `databricks auth login` again".to_string())))
}

/// How the browser is opened: the Go CLI's rules for `BROWSER`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Browser {
    /// `BROWSER=none`: the URL is only printed.
    None,
    /// `BROWSER=PROGRAM`: run as `PROGRAM URL`.
    Program(String),
    /// `BROWSER` unset: the system's opener.
    System,
}

impl Browser {
    /// From the value of `BROWSER`.
    pub fn from_variable(value: Option<&str>) -> Browser {
        match value.map(str::trim) {
            None | Some("") => Browser::System,
            Some("none") => Browser::None,
            Some(program) => Browser::Program(program.to_string()),
        }
    }

    /// Opens `url` and waits for the opener to finish; a problem is described for the user.
    pub async fn open(&self, url: &str) -> Result<(), String> {
        let (program, arguments): (String, Vec<&str>) = match self {
            Browser::None => return Ok(()),
            Browser::Program(program) => (program.clone(), vec![url]),
            Browser::System => {
                let (program, arguments) = system_opener(url)?;
                (program, arguments)
            }
        };
        let status = tokio::process::Command::new(&program)
            .args(&arguments)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .await
            .map_err(|error| format!("cannot run {program}: {error}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("{program} ended with {status}"))
        }
    }
}

#[cfg(target_os = "macos")]
fn system_opener(url: &str) -> Result<(String, Vec<&str>), String> {
    Ok(("open".to_string(), vec![url]))
}

#[cfg(windows)]
fn system_opener(url: &str) -> Result<(String, Vec<&str>), String> {
    Ok((
        "rundll32".to_string(),
        vec!["url.dll,FileProtocolHandler", url],
    ))
}

/// The first of the openers the Go CLI tries that is on `PATH`.
#[cfg(not(any(target_os = "macos", windows)))]
fn system_opener(url: &str) -> Result<(String, Vec<&str>), String> {
    const OPENERS: [&str; 3] = ["xdg-open", "x-www-browser", "www-browser"];
    let path = std::env::var_os("PATH").unwrap_or_default();
    OPENERS
        .iter()
        .find(|opener| std::env::split_paths(&path).any(|dir| dir.join(opener).is_file()))
        .map(|opener| (opener.to_string(), vec![url]))
        .ok_or_else(|| format!("none of {} is installed", OPENERS.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_is_s256_of_an_86_character_verifier() {
        let pkce = Pkce::generate().unwrap();
        assert_eq!(pkce.verifier.expose().len(), 86);
        let expected = URL_SAFE_NO_PAD.encode(digest(&SHA256, pkce.verifier.expose().as_bytes()));
        assert_eq!(pkce.challenge, expected);
        assert_ne!(Pkce::generate().unwrap().challenge, pkce.challenge);
        assert!(!format!("{pkce:?}").contains(pkce.verifier.expose()));
        assert_eq!(random_state().unwrap().len(), 22);
    }

    #[test]
    fn the_url_has_the_go_clis_sorted_query() {
        let pkce = Pkce::generate().unwrap();
        let url = authorization_url(
            "http://127.0.0.1:1/oidc/v1/authorize",
            "http://localhost:8020",
            &pkce,
            "st",
            &[],
        );
        assert_eq!(
            url,
            format!(
                "http://127.0.0.1:1/oidc/v1/authorize?client_id=databricks-cli&code_challenge={}\
                 &code_challenge_method=S256&redirect_uri=http%3A%2F%2Flocalhost%3A8020\
                 &response_type=code&scope=offline_access+all-apis&state=st",
                pkce.challenge
            )
        );
        assert_eq!(
            requested_scopes(&["sql".into(), "offline_access".into(), "jobs".into()]),
            "offline_access sql jobs"
        );
    }

    #[test]
    fn only_the_flows_state_ends_it() {
        assert_eq!(
            Callback::read("/?code=c&state=other", "st"),
            Callback::Unrelated
        );
        assert_eq!(Callback::read("/favicon.ico", "st"), Callback::Unrelated);
        assert_eq!(Callback::read("/?code=c", "st"), Callback::Unrelated);
        assert_eq!(
            Callback::read("/?code=c%2B1&state=st&iss=x", "st"),
            Callback::Code(Secret::new("c+1"))
        );
        assert_eq!(
            Callback::read(
                "/?error=access_denied&error_description=no+way&state=st",
                "st"
            ),
            Callback::Refused {
                error: "access_denied".into(),
                description: "no way".into()
            }
        );
    }

    #[test]
    fn pages_escape_what_the_request_carried() {
        let page = refusal_page("http://h", "access_denied", "<script>x</script>");
        assert!(page.contains("<title>Access Denied</title>"));
        assert!(page.contains("&lt;script&gt;"));
        assert!(!page.contains("<script>"));
    }

    #[test]
    fn browser_follows_the_variable() {
        assert_eq!(Browser::from_variable(None), Browser::System);
        assert_eq!(Browser::from_variable(Some("none")), Browser::None);
        assert_eq!(
            Browser::from_variable(Some("/bin/firefox")),
            Browser::Program("/bin/firefox".into())
        );
    }
}

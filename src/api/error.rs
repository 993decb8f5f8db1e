//! The one error type of the api layer, and the reading of error answers.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use super::debug::redact;

/// Longest excerpt of an unexpected body kept for an error message, in characters.
const EXCERPT_CHARS: usize = 200;

#[derive(thiserror::Error, Debug)]
pub enum Error {
    /// The service answered with a Databricks error body.
    #[error("{error_code}: {message}")]
    Api {
        status: u16,
        error_code: String,
        message: String,
    },
    /// An answer that is not what the Secrets API sends (HTML, text, truncated JSON, ...).
    #[error("{}", describe_unexpected_body(*status, excerpt))]
    UnexpectedBody { status: u16, excerpt: String },
    /// Redirects are not followed: the API never redirects, login pages do.
    #[error(
        "the server answered with a redirect (HTTP {status}{}) instead of an API answer",
        location.as_deref().map(|to| format!(" to {to}")).unwrap_or_default()
    )]
    Redirect {
        status: u16,
        location: Option<String>,
    },
    #[error("no answer from {url} in time")]
    Timeout { url: String },
    #[error("cannot connect to {host}: {detail}")]
    Connect { host: String, detail: String },
    /// The request went out but the connection broke before a complete answer came back.
    #[error("the connection to {host} was lost before a complete answer arrived ({detail})")]
    ConnectionLost { host: String, detail: String },
    /// The TLS handshake failed, e.g. a certificate no trusted authority signed.
    #[error("TLS with {host} failed: {detail}")]
    Tls { host: String, detail: String },
    /// The client's TLS set-up failed, e.g. no trusted certificate authority could be loaded.
    #[error("cannot set up TLS for {host}: {detail}")]
    TlsSetup { host: String, detail: String },
    /// Extra CA certificates that could not be read.
    #[error("cannot read CA certificates from {}: {detail}", path.display())]
    CaCertificates { path: PathBuf, detail: String },
    /// An https host whose server does not speak TLS (a plain-HTTP server, another protocol).
    #[error("the server at {host} does not speak TLS: {detail}")]
    NotTls { host: String, detail: String },
    /// Something answered, but not in HTTP (another protocol's greeting, a TLS server, garbage).
    #[error(
        "the server at {host} is not an HTTP server: its answer could not be read as HTTP ({detail})"
    )]
    NotHttp { host: String, detail: String },
    /// A throttled answer asked for a longer wait (`Retry-After`) than the retry budget had left.
    #[error(
        "rate limited ({cause}): the server asked to wait {} before retrying, longer than the {} \
         left of the {} retry budget",
        seconds(*retry_after),
        seconds(*remaining),
        seconds(*budget)
    )]
    RateLimited {
        cause: Box<Error>,
        retry_after: Duration,
        remaining: Duration,
        budget: Duration,
    },
    /// The host is not an http(s) URL.
    #[error("the host '{host}' is not a URL like https://<workspace>.cloud.databricks.com")]
    InvalidHost { host: String },
    /// A credential (`what`: token, user name) that no HTTP header can carry.
    #[error(
        "the {what} contains characters that cannot be sent in an HTTP header (such as a line break)"
    )]
    UnsendableCredentials { what: &'static str },
    /// The credentials provider could not supply credentials (no method configured, a token
    /// endpoint refused); the message says what to do.
    #[error("{message}")]
    Credentials { message: String },
}

impl Error {
    pub fn error_code(&self) -> Option<&str> {
        match self {
            Error::Api { error_code, .. } => Some(error_code),
            Error::RateLimited { cause, .. } => cause.error_code(),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. }
            | Error::UnexpectedBody { status, .. }
            | Error::Redirect { status, .. } => Some(*status),
            Error::RateLimited { cause, .. } => cause.status(),
            _ => None,
        }
    }

    /// The same error with `mask` applied to every text an answer supplied (the others come
    /// from this client or its libraries, which never quote an answer).
    pub(crate) fn masked(self, mask: &dyn Fn(&str) -> String) -> Error {
        match self {
            Error::Api {
                status,
                error_code,
                message,
            } => Error::Api {
                status,
                error_code: mask(&error_code),
                message: mask(&message),
            },
            Error::UnexpectedBody { status, excerpt } => Error::UnexpectedBody {
                status,
                excerpt: mask(&excerpt),
            },
            Error::Redirect { status, location } => Error::Redirect {
                status,
                location: location.as_deref().map(mask),
            },
            Error::RateLimited {
                cause,
                retry_after,
                remaining,
                budget,
            } => Error::RateLimited {
                cause: Box::new(cause.masked(mask)),
                retry_after,
                remaining,
                budget,
            },
            other => other,
        }
    }
}

/// A duration for a message: whole seconds as `30 s`, else cut (not rounded, so that what is
/// left never looks like enough) to a tenth: `1.9 s` for 1.96 s.
pub(crate) fn seconds(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        return format!("{} s", duration.as_secs());
    }
    let tenths = duration.subsec_millis() / 100;
    format!("{}.{tenths} s", duration.as_secs())
}

/// Turns a non-2xx answer into an error, whatever its body holds.
pub(crate) fn error_from_body(status: u16, body: &[u8]) -> Error {
    match serde_json::from_slice::<Value>(body) {
        Ok(json) => api_error_from_json(status, &json).unwrap_or_else(|| Error::UnexpectedBody {
            status,
            excerpt: excerpt(redact(&json).to_string().as_bytes()),
        }),
        Err(_) => Error::UnexpectedBody {
            status,
            excerpt: excerpt(body),
        },
    }
}

/// Reads `{"error_code", "message"}`, coping with bodies that carry only `error` or `message`.
fn api_error_from_json(status: u16, json: &Value) -> Option<Error> {
    let field = |name: &str| {
        json.get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|text| !text.is_empty())
    };
    let code = field("error_code");
    let message = field("message").or(field("error")).or(field("detail"));
    if code.is_none() && message.is_none() {
        return None;
    }
    let error_code = code.map_or_else(|| code_for_status(status), str::to_owned);
    Some(Error::Api {
        status,
        error_code,
        message: message.unwrap_or("(no message)").to_owned(),
    })
}

/// The code Databricks uses for a status when a body does not name one.
fn code_for_status(status: u16) -> String {
    let code = match status {
        400 => "BAD_REQUEST",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "RESOURCE_CONFLICT",
        429 => "TOO_MANY_REQUESTS",
        500 => "INTERNAL_ERROR",
        501 => "NOT_IMPLEMENTED",
        503 => "TEMPORARILY_UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => return format!("HTTP_{status}"),
    };
    code.to_owned()
}

fn describe_unexpected_body(status: u16, excerpt: &str) -> String {
    if excerpt.is_empty() {
        format!("the server answered HTTP {status} with an empty body")
    } else {
        format!(
            "the server answered HTTP {status} with a body that is not an API answer: \"{excerpt}\""
        )
    }
}

/// A short single line from any body: HTML tags and scripts dropped, whitespace collapsed.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let visible = strip_html(&text);
    let collapsed = visible
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if collapsed.chars().count() <= EXCERPT_CHARS {
        return collapsed;
    }
    let cut: String = collapsed.chars().take(EXCERPT_CHARS - 3).collect();
    format!("{}...", cut.trim_end())
}

/// Removes tags and the contents of `<script>`/`<style>`, keeping the readable text.
/// Text without a `<` followed by a letter, `/` or `!` is returned unchanged.
fn strip_html(text: &str) -> String {
    let mut visible = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = find_tag_start(rest) {
        visible.push_str(&rest[..start]);
        visible.push(' ');
        let tag = &rest[start..];
        let Some(end) = tag.find('>') else {
            return visible;
        };
        let name = tag_name(&tag[1..end]);
        rest = &tag[end + 1..];
        if name == "script" || name == "style" {
            let closing = format!("</{name}");
            rest = match find_ignore_ascii_case(rest, &closing) {
                Some(at) => &rest[at..],
                None => "",
            };
        }
    }
    visible.push_str(rest);
    visible
}

fn find_tag_start(text: &str) -> Option<usize> {
    text.char_indices()
        .zip(text.chars().skip(1))
        .find(|((_, c), next)| {
            *c == '<' && (next.is_ascii_alphabetic() || matches!(next, '/' | '!'))
        })
        .map(|((at, _), _)| at)
}

fn tag_name(inside: &str) -> String {
    inside
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase()
}

fn find_ignore_ascii_case(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn unexpected_excerpt(error: Error) -> String {
        match error {
            Error::UnexpectedBody { excerpt, .. } => excerpt,
            other => panic!("expected UnexpectedBody, got {other:?}"),
        }
    }

    #[test]
    fn databricks_error_bodies_become_api_errors() {
        let error = error_from_body(
            404,
            br#"{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Scope nope does not exist!","details":[]}"#,
        );
        assert_eq!(error.status(), Some(404));
        assert_eq!(error.error_code(), Some("RESOURCE_DOES_NOT_EXIST"));
        assert_eq!(
            error.to_string(),
            "RESOURCE_DOES_NOT_EXIST: Scope nope does not exist!"
        );
    }

    #[test]
    fn bodies_with_only_error_or_message_get_a_code_from_the_status() {
        let error = error_from_body(401, br#"{"error": "Invalid access token."}"#);
        assert_eq!(error.to_string(), "UNAUTHENTICATED: Invalid access token.");
        let error = error_from_body(418, br#"{"message": "teapot"}"#);
        assert_eq!(error.to_string(), "HTTP_418: teapot");
        let error = error_from_body(400, br#"{"error_code": "MALFORMED_REQUEST"}"#);
        assert_eq!(error.to_string(), "MALFORMED_REQUEST: (no message)");
    }

    #[test]
    fn json_without_error_fields_is_unexpected() {
        let excerpt = unexpected_excerpt(error_from_body(500, br#"{"ok": false}"#));
        assert_eq!(excerpt, r#"{"ok":false}"#);
        let excerpt = unexpected_excerpt(error_from_body(502, b"[1, 2]"));
        assert_eq!(excerpt, "[1,2]");
    }

    #[test]
    fn html_login_page_becomes_a_short_excerpt_with_the_status() {
        let page = b"<!DOCTYPE html>\n<html><head><title>Sign in</title>\
            <style>body { color: red }</style><script>var x = '<b>';</script></head>\
            <body>\n  <h1>Please   log in</h1>\n</body></html>";
        let error = error_from_body(502, page);
        let message = error.to_string();
        assert!(message.contains("HTTP 502"), "{message}");
        assert_eq!(unexpected_excerpt(error), "Sign in Please log in");
    }

    #[test]
    fn empty_plain_and_truncated_bodies_are_unexpected() {
        let empty = error_from_body(503, b"");
        assert!(
            empty.to_string().contains("HTTP 503 with an empty body"),
            "{empty}"
        );
        assert_eq!(
            unexpected_excerpt(error_from_body(500, b"upstream connect error\r\n")),
            "upstream connect error"
        );
        assert_eq!(
            unexpected_excerpt(error_from_body(400, br#"{"error_code": "BAD"#)),
            r#"{"error_code": "BAD"#
        );
        assert_eq!(
            unexpected_excerpt(error_from_body(500, b"a < b and c > d")),
            "a < b and c > d"
        );
    }

    #[test]
    fn long_and_binary_bodies_are_cut_to_one_short_line() {
        let long = "word ".repeat(500);
        let cut = unexpected_excerpt(error_from_body(500, long.as_bytes()));
        assert!(
            cut.chars().count() <= EXCERPT_CHARS && cut.ends_with("..."),
            "{cut}"
        );
        let garbage = unexpected_excerpt(error_from_body(500, &[0xff, 0x00, b'\n', 0xfe, b'x']));
        assert!(
            !garbage.contains('\n') && garbage.contains('x'),
            "{garbage:?}"
        );
    }

    #[test]
    fn durations_are_whole_seconds_or_cut_to_a_tenth() {
        assert_eq!(seconds(Duration::from_secs(30)), "30 s");
        assert_eq!(seconds(Duration::from_millis(1960)), "1.9 s");
        assert_eq!(seconds(Duration::from_millis(300)), "0.3 s");
        assert_eq!(seconds(Duration::from_millis(2040)), "2.0 s");
        assert_eq!(seconds(Duration::MAX), "18446744073709551615.9 s");
    }

    #[test]
    fn redirect_and_timeout_messages_state_the_facts() {
        let redirect = Error::Redirect {
            status: 302,
            location: Some("https://login.example.com/".into()),
        };
        assert_eq!(
            redirect.to_string(),
            "the server answered with a redirect (HTTP 302 to https://login.example.com/) \
             instead of an API answer"
        );
        let timeout = Error::Timeout {
            url: "https://h/api/2.0/secrets/list".into(),
        };
        assert_eq!(
            timeout.to_string(),
            "no answer from https://h/api/2.0/secrets/list in time"
        );
    }

    proptest! {
        #![proptest_config(crate::fuzzing::fuzz_config())]

        #[test]
        fn fuzz_error_body(
            status in 100u16..1000,
            body in proptest::collection::vec(any::<u8>(), 0..600),
        ) {
            let error = error_from_body(status, &body);
            prop_assert_eq!(error.status(), Some(status));
            let message = error.to_string();
            if let Error::UnexpectedBody { excerpt, .. } = error {
                prop_assert!(excerpt.chars().count() <= EXCERPT_CHARS);
                prop_assert!(!message.contains('\n'));
            }
        }

        #[test]
        fn html_like_text_never_panics(text in "[<>/a-zA-Z !\\-\"=é\n]{0,300}") {
            let line = excerpt(text.as_bytes());
            prop_assert!(!line.contains('\n'));
        }
    }
}

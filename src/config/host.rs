//! Workspace host normalisation: `scheme://host[:port]`, nothing else.

use std::net::IpAddr;

use url::{Host, Url};

use super::ConfigError;

/// Turns what a user typed into the base URL the API client uses: `https://` added when there
/// is no scheme, scheme and host lower-cased, the port kept (a default port is implied), path,
/// query, fragment and trailing slash dropped. Only `http` and `https` are accepted.
pub fn normalize_host(input: &str) -> Result<String, ConfigError> {
    let invalid = |reason: &str| ConfigError::InvalidHost {
        input: without_userinfo(input),
        reason: reason.to_string(),
    };
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(invalid("it is empty"));
    }
    if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("it contains spaces or control characters"));
    }
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_string()
    } else {
        format!("https://{trimmed}")
    };
    let url = Url::parse(&with_scheme).map_err(|error| invalid(&error.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("only http:// and https:// are supported"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("it must not contain a user name or password"));
    }
    let host = match url.host_str() {
        Some(host) if !host.is_empty() => host,
        _ => return Err(invalid("it has no host name")),
    };
    Ok(match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    })
}

/// `input` for messages: anything between the scheme (or the start) and the last `@` is taken
/// for `user:password@` and left out, whether or not the rest parses.
fn without_userinfo(input: &str) -> String {
    let is_scheme = |text: &str| {
        text.starts_with(|c: char| c.is_ascii_alphabetic())
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    };
    let authority_start = input
        .find("://")
        .filter(|&index| is_scheme(&input[..index]))
        .map_or(0, |index| index + 3);
    match input[authority_start..].rfind('@') {
        Some(at) => format!(
            "{}{}",
            &input[..authority_start],
            &input[authority_start + at + 1..]
        ),
        None => input.to_string(),
    }
}

/// True when the URL (or bare host name) points at this machine: `localhost`, 127.0.0.0/8, `::1`.
pub fn is_loopback_host(url: &str) -> bool {
    let Some(parsed) = normalize_host(url)
        .ok()
        .and_then(|normal| Url::parse(&normal).ok())
    else {
        return false;
    };
    match parsed.host() {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn adds_https_when_there_is_no_scheme() {
        assert_eq!(
            normalize_host("adb-123.4.azuredatabricks.net").unwrap(),
            "https://adb-123.4.azuredatabricks.net"
        );
    }

    #[test]
    fn keeps_the_port_and_drops_path_query_fragment_and_slash() {
        assert_eq!(
            normalize_host("https://example.com:8443/some/path/?o=123#frag").unwrap(),
            "https://example.com:8443"
        );
        assert_eq!(
            normalize_host("example.com/").unwrap(),
            "https://example.com"
        );
        assert_eq!(
            normalize_host("localhost:8080").unwrap(),
            "https://localhost:8080"
        );
        assert_eq!(
            normalize_host("http://127.0.0.1:5000/").unwrap(),
            "http://127.0.0.1:5000"
        );
    }

    #[test]
    fn lower_cases_scheme_and_host_and_trims_spaces() {
        assert_eq!(
            normalize_host("  HTTPS://Example.COM/x  ").unwrap(),
            "https://example.com"
        );
    }

    #[test]
    fn a_default_port_is_implied() {
        assert_eq!(
            normalize_host("https://example.com:443").unwrap(),
            "https://example.com"
        );
    }

    #[test]
    fn keeps_ipv6_brackets() {
        assert_eq!(
            normalize_host("http://[::1]:8080/api").unwrap(),
            "http://[::1]:8080"
        );
    }

    #[test]
    fn refuses_what_is_not_a_host() {
        for input in [
            "",
            "   ",
            "https://",
            "http://",
            "not a url",
            "https://exa mple.com",
            "ftp://example.com",
            "file:///etc/passwd",
            "https://example.com:99999",
            "://example.com",
            "https://user:pass@example.com",
            "mailto:someone@example.com",
        ] {
            let result = normalize_host(input);
            assert!(
                matches!(result, Err(ConfigError::InvalidHost { .. })),
                "{input:?} gave {result:?}"
            );
        }
    }

    #[test]
    fn a_user_name_and_password_are_never_shown() {
        for (input, shown) in [
            ("https://me:hunter2@example.com/x", "https://example.com/x"),
            ("me:hunter2@example.com", "example.com"),
            ("https://me:hun ter2@exa mple.com", "https://exa mple.com"),
            ("https://me:a@b@example.com", "https://example.com"),
            (":hunter2@A://", "A://"),
            (" https://me:hunter2@h", "h"),
        ] {
            let error = normalize_host(input).unwrap_err();
            let ConfigError::InvalidHost {
                input: displayed, ..
            } = &error
            else {
                panic!("{error:?}");
            };
            assert_eq!(displayed, shown);
            assert!(!error.to_string().contains("hunter2"), "{error}");
        }
    }

    #[test]
    fn the_error_says_what_to_do() {
        let message = normalize_host("https://").unwrap_err().to_string();
        assert!(message.contains("https://"), "{message}");
        assert!(message.contains("workspace URL"), "{message}");
    }

    #[test]
    fn recognises_loopback_hosts() {
        for url in [
            "http://localhost:8080",
            "http://LOCALHOST",
            "http://127.0.0.1:1234",
            "http://127.8.9.10",
            "http://[::1]:80",
            "localhost",
        ] {
            assert!(is_loopback_host(url), "{url}");
        }
        for url in [
            "http://example.com",
            "http://10.0.0.1",
            "http://128.0.0.1",
            "http://localhost.example.com",
            "http://[::2]",
            "not a url",
        ] {
            assert!(!is_loopback_host(url), "{url}");
        }
    }

    fn host_name() -> impl Strategy<Value = String> {
        // A label with `--` at its third character is an IDNA A-label (`xn--…`), which must
        // be valid punycode: such a host is rightly refused, so none is generated.
        let is_a_label = |label: &str| label.get(2..4) == Some("--");
        prop_oneof![
            "[a-zA-Z][a-zA-Z0-9-]{0,10}(\\.[a-zA-Z][a-zA-Z0-9-]{0,10}){0,3}"
                .prop_filter("no A-labels", move |host: &String| !host
                    .split('.')
                    .any(is_a_label)),
            (0u8..=255, 0u8..=255, 0u8..=255, 0u8..=255)
                .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        ]
    }

    /// Arbitrary text, and URL-shaped text with optional user names and passwords.
    fn any_host_input() -> impl Strategy<Value = String> {
        let scheme = prop_oneof![
            Just(String::new()),
            Just("https://".to_string()),
            Just("http://".to_string()),
            "[a-zA-Z+]{0,6}:/{0,3}",
        ];
        let userinfo = prop_oneof![
            Just(String::new()),
            "[a-z]{0,5}(:pw-secret-[a-z0-9 /@]{0,6})?@"
        ];
        let host = prop_oneof![host_name(), "\\[[0-9a-fA-F:.]{0,20}\\]", "\\PC{0,12}"];
        let rest = "(:[0-9]{0,6})?[/?#]?\\PC{0,12}";
        prop_oneof![
            any::<String>(),
            (scheme, userinfo, host, rest).prop_map(|(s, u, h, r)| format!("{s}{u}{h}{r}")),
        ]
    }

    proptest! {
        #![proptest_config(crate::fuzzing::fuzz_config())]

        /// Any input gives `scheme://host[:port]` that normalises to itself, or an error that
        /// never shows a password; never a panic.
        #[test]
        fn fuzz_host_url(input in any_host_input()) {
            match normalize_host(&input) {
                Ok(normal) => {
                    prop_assert_eq!(normalize_host(&normal).unwrap(), normal.clone());
                    let url = Url::parse(&normal).unwrap();
                    prop_assert!(matches!(url.scheme(), "http" | "https"));
                    prop_assert_eq!(url.path(), "/");
                    prop_assert!(url.username().is_empty() && url.password().is_none());
                    is_loopback_host(&normal);
                }
                Err(error) => prop_assert!(!error.to_string().contains("pw-secret")),
            }
        }
    }

    proptest! {

        #[test]
        fn keeps_the_port_and_leaves_no_path(
            scheme in prop_oneof![Just(""), Just("http://"), Just("https://"), Just("HTTPS://")],
            host in host_name(),
            port in proptest::option::of(1u16..),
            path in "(/[a-z0-9._-]{0,8}){0,3}/?(\\?[a-z=&]{0,8})?(#[a-z]{0,5})?",
        ) {
            let port_part = port.map(|p| format!(":{p}")).unwrap_or_default();
            let normal = normalize_host(&format!("{scheme}{host}{port_part}{path}")).unwrap();
            let url = Url::parse(&normal).unwrap();
            let default_port = if url.scheme() == "http" { 80 } else { 443 };
            prop_assert_eq!(url.port_or_known_default(), Some(port.unwrap_or(default_port)));
            let lower_host = host.to_lowercase();
            prop_assert_eq!(url.host_str(), Some(lower_host.as_str()));
            prop_assert!(!normal.ends_with('/'));
            prop_assert_eq!(normal.matches('/').count(), 2, "{}", normal);
            prop_assert!(!normal.contains(['?', '#']));
            prop_assert_eq!(normalize_host(&normal).unwrap(), normal);
        }
    }
}

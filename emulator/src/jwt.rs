//! JWT-shaped tokens: what the emulator issues (claims readable, signature random) and what it
//! reads from clients (claims only: like the docs say, signatures are not verified).

use crate::random_bytes;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

pub(crate) type Claims = Map<String, Value>;

/// `header.payload.signature`, base64url without padding; the signature is random bytes.
pub(crate) fn encode(claims: &Claims) -> String {
    let header = json!({ "alg": "RS256", "kid": "databricks-emulator", "typ": "JWT" });
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string()),
        URL_SAFE_NO_PAD.encode(random_bytes::<32>())
    )
}

/// The claims of a JWT whose header and payload are base64url JSON objects.
pub(crate) fn claims(token: &str) -> Result<Claims, String> {
    let parts: Vec<&str> = token.trim().split('.').collect();
    let [header, payload, _signature] = parts[..] else {
        return Err("it is not a JWT (three base64url parts separated by dots)".into());
    };
    decode_object(header).map_err(|problem| format!("its header {problem}"))?;
    decode_object(payload).map_err(|problem| format!("its payload {problem}"))
}

fn decode_object(part: &str) -> Result<Claims, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| "is not base64url".to_string())?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err("is not a JSON object".into()),
    }
}

/// A string claim.
pub(crate) fn string_claim<'a>(claims: &'a Claims, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

/// The `aud` claim, a string or an array of strings.
pub(crate) fn audiences(claims: &Claims) -> Vec<&str> {
    match claims.get("aud") {
        Some(Value::String(audience)) => vec![audience.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// A JWT with three non-empty base64url parts whose header starts with `eyJ` (`{"`).
pub(crate) fn is_jwt_shaped(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3
        && token.starts_with("eyJ")
        && parts.iter().all(|part| {
            !part.is_empty() && URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).is_ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_decode_to_their_claims() {
        let mut claims = Claims::new();
        claims.insert("sub".into(), json!("repo:o/r:ref:refs/heads/main"));
        claims.insert("aud".into(), json!(["a", "b"]));
        let token = encode(&claims);
        assert!(is_jwt_shaped(&token));
        let decoded = super::claims(&token).unwrap();
        assert_eq!(
            string_claim(&decoded, "sub"),
            Some("repo:o/r:ref:refs/heads/main")
        );
        assert_eq!(audiences(&decoded), ["a", "b"]);
        assert_ne!(encode(&claims), token, "signatures are random");
    }

    #[test]
    fn anything_else_is_refused_with_the_reason() {
        assert!(claims("dapi123").unwrap_err().contains("not a JWT"));
        assert!(claims("e30.!!.c2ln").unwrap_err().contains("payload"));
        assert!(
            claims("bm90IGpzb24.e30.c2ln")
                .unwrap_err()
                .contains("header")
        );
        assert!(claims("e30.WzFd.c2ln").unwrap_err().contains("JSON object"));
        assert!(claims("e30.e30.c2ln").unwrap().is_empty());
    }

    proptest::proptest! {
        #![proptest_config(crate::fuzz_config())]

        #[test]
        fn fuzz_jwt_claims(token in "[A-Za-z0-9_=.-]{0,120}|eyJ[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,60}\\.[a-z]{0,5}") {
            // whatever a client sends: an answer, never a panic; a shaped token parses or says why
            match claims(&token) {
                Ok(_) => proptest::prop_assert_eq!(token.trim().split('.').count(), 3),
                Err(problem) => proptest::prop_assert!(!problem.is_empty()),
            }
            let _ = is_jwt_shaped(&token);
        }

        #[test]
        fn fuzz_jwt_round_trip(sub in "\\PC{0,40}", exp in proptest::num::i64::ANY) {
            let mut claims_in = Claims::new();
            claims_in.insert("sub".into(), json!(sub));
            claims_in.insert("exp".into(), json!(exp));
            let token = encode(&claims_in);
            proptest::prop_assert!(is_jwt_shaped(&token));
            proptest::prop_assert_eq!(claims(&token).unwrap(), claims_in);
        }
    }

    #[test]
    fn jwt_shape_is_recognised() {
        assert!(is_jwt_shaped("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"));
        assert!(!is_jwt_shaped("dapi1234"));
        assert!(!is_jwt_shaped("eyJhbGci.only-two"));
        assert!(!is_jwt_shaped("eyJ..sig"));
        assert!(!is_jwt_shaped("eyJ!!.a.b"));
    }
}

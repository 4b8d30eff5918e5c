use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::WebhookError;
use crate::config::Secret;

type HmacSha256 = Hmac<Sha256>;

/// Verifies `X-Hub-Signature-256` against the current and, during a rotation, the previous
/// webhook secret. Constant-time; SHA-1 signatures are not accepted.
#[derive(Clone)]
pub struct Verifier {
    keys: Vec<HmacSha256>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").field("secrets", &self.keys.len()).finish()
    }
}

impl Verifier {
    /// A verifier for these secrets (current first). Empty secrets are rejected.
    ///
    /// ```
    /// use githubapp::config::Secret;
    /// use githubapp::webhook::{sign, Verifier};
    /// let v = Verifier::new(&[Secret::new("It's a Secret to Everybody")]).unwrap();
    /// let sig = sign("It's a Secret to Everybody", b"Hello, World!");
    /// assert_eq!(sig, "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
    /// assert!(v.verify(Some(sig.as_bytes()), b"Hello, World!").is_ok());
    /// assert!(v.verify(Some(sig.as_bytes()), b"Hello, World?").is_err());
    /// ```
    pub fn new(secrets: &[Secret]) -> Result<Verifier, crate::config::ConfigError> {
        if secrets.is_empty() || secrets.iter().any(|s| s.expose().is_empty()) {
            return Err(crate::config::ConfigError::Missing {
                var: "GITHUBAPP_WEBHOOK_SECRET",
                hint: "a webhook secret is required; an empty secret would accept any delivery",
            });
        }
        let keys =
            secrets.iter().filter_map(|s| HmacSha256::new_from_slice(s.expose().as_bytes()).ok()).collect();
        Ok(Verifier { keys })
    }

    /// Checks the raw `X-Hub-Signature-256` header value against `body`.
    pub fn verify(&self, header: Option<&[u8]>, body: &[u8]) -> Result<(), WebhookError> {
        let expected = parse_signature(header.ok_or(WebhookError::Signature)?)?;
        for key in &self.keys {
            let mut mac = key.clone();
            mac.update(body);
            if mac.verify_slice(&expected).is_ok() {
                return Ok(());
            }
        }
        Err(WebhookError::Signature)
    }
}

/// `sha256=` followed by exactly 64 lowercase hex digits.
fn parse_signature(header: &[u8]) -> Result<[u8; 32], WebhookError> {
    let hex_part = header.strip_prefix(b"sha256=").ok_or(WebhookError::Signature)?;
    if hex_part.len() != 64 || !hex_part.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(WebhookError::Signature);
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut out).map_err(|_| WebhookError::Signature)?;
    Ok(out)
}

/// The `X-Hub-Signature-256` value GitHub would send for `body` signed with `secret`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    // An HMAC key may have any length, so this cannot fail.
    let mut mac = match HmacSha256::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "It's a Secret to Everybody";
    const BODY: &[u8] = b"Hello, World!";

    fn verifier() -> Verifier {
        Verifier::new(&[Secret::new(SECRET)]).unwrap()
    }

    #[test]
    fn github_test_vector() {
        assert_eq!(
            sign(SECRET, BODY),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
        assert!(verifier().verify(Some(sign(SECRET, BODY).as_bytes()), BODY).is_ok());
    }

    #[test]
    fn rejects_bad_signatures() {
        let good = sign(SECRET, BODY);
        let upper = good.to_uppercase().replace("SHA256=", "sha256=");
        let cases: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"sha256=".to_vec(),
            b"sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59".to_vec(),
            good.as_bytes()[..good.len() - 1].to_vec(),
            format!("{good}0").into_bytes(),
            upper.into_bytes(),
            good.replace("sha256=", "SHA256=").into_bytes(),
            sign("other secret", BODY).into_bytes(),
            b"sha256=zz07ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17".to_vec(),
        ];
        for case in cases {
            assert!(verifier().verify(Some(&case), BODY).is_err(), "{:?}", String::from_utf8_lossy(&case));
        }
        assert!(verifier().verify(None, BODY).is_err());
    }

    #[test]
    fn rotation_accepts_previous_secret() {
        let v = Verifier::new(&[Secret::new("new"), Secret::new("old")]).unwrap();
        assert!(v.verify(Some(sign("old", BODY).as_bytes()), BODY).is_ok());
        assert!(v.verify(Some(sign("new", BODY).as_bytes()), BODY).is_ok());
        assert!(v.verify(Some(sign("older", BODY).as_bytes()), BODY).is_err());
    }

    #[test]
    fn empty_secret_is_an_error() {
        assert!(Verifier::new(&[]).is_err());
        assert!(Verifier::new(&[Secret::new("")]).is_err());
    }

    #[test]
    fn debug_hides_secrets() {
        assert!(!format!("{:?}", verifier()).contains("Secret to"));
    }
}

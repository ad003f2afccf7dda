//! Signing as the Standard Webhooks specification says: a secret `whsec_<base64>` per
//! user, and `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`,
//! keyed with the secret's decoded bytes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// What every secret starts with.
pub const SECRET_PREFIX: &str = "whsec_";

/// Random bytes in a new secret: 32, within the 24 to 64 the specification asks for.
const SECRET_BYTES: usize = 32;

/// A new random secret, `whsec_` and the base64 of 32 bytes from the operating system.
pub fn new_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// A secret's key bytes, ready to sign with. Its `Debug` shows nothing of the key.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("SigningKey(***)")
    }
}

/// A stored secret that is not `whsec_` and base64.
#[derive(Debug, thiserror::Error)]
#[error("a webhook secret must be `whsec_` followed by base64")]
pub struct MalformedSecret;

impl SigningKey {
    /// The key of a `whsec_…` secret.
    pub fn from_secret(secret: &str) -> Result<Self, MalformedSecret> {
        let encoded = secret.strip_prefix(SECRET_PREFIX).ok_or(MalformedSecret)?;
        let bytes = STANDARD.decode(encoded).map_err(|_| MalformedSecret)?;
        if bytes.is_empty() {
            return Err(MalformedSecret);
        }
        Ok(SigningKey(bytes))
    }

    /// The `webhook-signature` header's value for message `id` sent at `timestamp` (unix
    /// seconds) with `body`: `v1,` and the base64 of the HMAC-SHA256.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        // HMAC takes keys of any length, so this cannot fail.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_secret_is_whsec_and_32_random_bytes() {
        let first = new_secret();
        let second = new_secret();
        assert!(first.starts_with("whsec_"), "{first}");
        assert_ne!(first, second);
        let key = SigningKey::from_secret(&first).unwrap();
        assert_eq!(key.0.len(), 32);
    }

    #[test]
    fn a_secret_without_the_prefix_or_not_base64_is_refused() {
        assert!(SigningKey::from_secret("c2VjcmV0").is_err());
        assert!(SigningKey::from_secret("whsec_not base64!").is_err());
        assert!(SigningKey::from_secret("whsec_").is_err());
    }

    #[test]
    fn a_signature_is_accepted_by_the_reference_library() {
        let secret = new_secret();
        let body = br#"{"type":"task.completed","data":{"task_id":"task_1"}}"#;
        let timestamp = chrono::Utc::now().timestamp();
        let signature = SigningKey::from_secret(&secret)
            .unwrap()
            .sign("msg_1", timestamp, body);

        let mut headers = http::HeaderMap::new();
        headers.insert("webhook-id", "msg_1".parse().unwrap());
        headers.insert("webhook-timestamp", timestamp.to_string().parse().unwrap());
        headers.insert("webhook-signature", signature.parse().unwrap());
        let reference = standardwebhooks::Webhook::new(&secret).unwrap();
        reference.verify(body, &headers).unwrap();

        let tampered = br#"{"type":"task.completed","data":{"task_id":"task_2"}}"#;
        assert!(reference.verify(tampered, &headers).is_err());
    }

    #[test]
    fn the_signature_is_the_hmac_of_id_timestamp_and_body() {
        // The Standard Webhooks specification's example (from its reference libraries'
        // tests): this secret, id, time and body sign to this value.
        let key = SigningKey::from_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = key.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}

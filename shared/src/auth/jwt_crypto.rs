//! The cryptography under `jsonwebtoken`: the HMAC family on ring, which TLS and SigV4 use
//! already. The crate's own back ends would link a second crypto library (aws-lc) or RSA,
//! ECDSA and Ed25519 code that tokens signed with the service's one shared key never need.

use jsonwebtoken::crypto::{CryptoProvider, JwkUtils, JwtSigner, JwtVerifier};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use ring::hmac;

static HMAC_ONLY: CryptoProvider =
    CryptoProvider { signer_factory: signer, verifier_factory: verifier, jwk_utils: JwkUtils::new_unimplemented() };

/// Makes this the process's provider; later calls (another `TokenKeys`) change nothing.
pub(super) fn install() {
    let _already_installed = HMAC_ONLY.install_default();
}

fn ring_algorithm(algorithm: Algorithm) -> Result<hmac::Algorithm> {
    match algorithm {
        Algorithm::HS256 => Ok(hmac::HMAC_SHA256),
        Algorithm::HS384 => Ok(hmac::HMAC_SHA384),
        Algorithm::HS512 => Ok(hmac::HMAC_SHA512),
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    }
}

struct HmacKey {
    key: hmac::Key,
    algorithm: Algorithm,
}

fn signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    let key = hmac::Key::new(ring_algorithm(*algorithm)?, key.try_get_hmac_secret()?);
    Ok(Box::new(HmacKey { key, algorithm: *algorithm }))
}

fn verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    let key = hmac::Key::new(ring_algorithm(*algorithm)?, key.try_get_hmac_secret()?);
    Ok(Box::new(HmacKey { key, algorithm: *algorithm }))
}

impl Signer<Vec<u8>> for HmacKey {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        Ok(hmac::sign(&self.key, message).as_ref().to_vec())
    }
}

impl JwtSigner for HmacKey {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

impl Verifier<Vec<u8>> for HmacKey {
    fn verify(&self, message: &[u8], tag: &Vec<u8>) -> std::result::Result<(), signature::Error> {
        // ring compares in constant time.
        hmac::verify(&self.key, message, tag).map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for HmacKey {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example token of RFC 7515's family that every JWT library checks against
    /// (jwt.io's HS256 sample): same bytes signed, same signature.
    #[test]
    fn signatures_are_standard_hs256_and_other_families_are_refused() {
        install();
        let signing_input = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.\
                             eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ";
        let key = EncodingKey::from_secret(b"your-256-bit-secret");
        let signature = jsonwebtoken::crypto::sign(signing_input.as_bytes(), &key, Algorithm::HS256).unwrap();
        assert_eq!(signature, "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c");
        let decoding = DecodingKey::from_secret(b"your-256-bit-secret");
        assert!(
            jsonwebtoken::crypto::verify(&signature, signing_input.as_bytes(), &decoding, Algorithm::HS256).unwrap()
        );
        assert!(!jsonwebtoken::crypto::verify(&signature, b"tampered", &decoding, Algorithm::HS256).unwrap_or(false));
        let refused = jsonwebtoken::crypto::sign(signing_input.as_bytes(), &key, Algorithm::RS256).unwrap_err();
        assert_eq!(refused.kind(), &ErrorKind::InvalidAlgorithm);
    }
}

//! AWS Signature Version 4 (`AWS4-HMAC-SHA256`): the one implementation that signs the
//! Management API calls (see `push::signing`) and that the local gateway verifies them with.

use std::time::SystemTime;

use ring::{digest, hmac};
use time::OffsetDateTime;
use time::macros::format_description;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The key of one day, region and service. Four HMACs derive it from the secret, so a signer
/// keeps it for the day rather than deriving it again for every request.
#[derive(Clone)]
pub struct SigningKey(hmac::Key);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

impl SigningKey {
    /// `date` is the scope's day, `YYYYMMDD`.
    pub fn derive(secret_access_key: &str, date: &str, region: &str, service: &str) -> Self {
        let step = |key: &[u8], data: &str| hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes());
        let mut secret = String::with_capacity(4 + secret_access_key.len());
        secret.push_str("AWS4");
        secret.push_str(secret_access_key);
        let key = step(secret.as_bytes(), date);
        let key = step(key.as_ref(), region);
        let key = step(key.as_ref(), service);
        let key = step(key.as_ref(), "aws4_request");
        Self(hmac::Key::new(hmac::HMAC_SHA256, key.as_ref()))
    }

    /// The hex signature of a string to sign.
    pub fn signature(&self, string_to_sign: &str) -> String {
        hex(hmac::sign(&self.0, string_to_sign.as_bytes()).as_ref())
    }
}

/// `YYYYMMDD/region/service/aws4_request`.
pub fn credential_scope(date: &str, region: &str, service: &str) -> String {
    [date, "/", region, "/", service, "/aws4_request"].concat()
}

/// The day of an `x-amz-date` value (`20150830T123600Z` → `20150830`).
pub fn scope_date(amz_date: &str) -> &str {
    amz_date.get(..8).unwrap_or_default()
}

/// The canonical request. `path` is the path as sent (percent-encoded, no query);
/// `headers` are the signed headers, lowercase names in order, each with its values joined
/// by commas; `payload_hash` is the body's [`sha256_hex`].
pub fn canonical_request(
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &[(&str, &str)],
    payload_hash: &str,
) -> String {
    let mut canonical = String::with_capacity(256);
    canonical.push_str(method);
    canonical.push('\n');
    encode_into(&mut canonical, path, true);
    canonical.push('\n');
    if let Some(query) = query.filter(|query| !query.is_empty()) {
        canonical.push_str(&canonical_query(query));
    }
    canonical.push('\n');
    for (name, value) in headers {
        canonical.push_str(name);
        canonical.push(':');
        push_collapsed(&mut canonical, value);
        canonical.push('\n');
    }
    canonical.push('\n');
    for (i, (name, _)) in headers.iter().enumerate() {
        if i > 0 {
            canonical.push(';');
        }
        canonical.push_str(name);
    }
    canonical.push('\n');
    canonical.push_str(payload_hash);
    canonical
}

/// What the signing key signs.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    [ALGORITHM, "\n", amz_date, "\n", scope, "\n", &sha256_hex(canonical_request.as_bytes())].concat()
}

/// The `Authorization` header's value; `signed_headers` are the names joined by `;`.
pub fn authorization(access_key_id: &str, scope: &str, signed_headers: &str, signature: &str) -> String {
    [
        ALGORITHM,
        " Credential=",
        access_key_id,
        "/",
        scope,
        ", SignedHeaders=",
        signed_headers,
        ", Signature=",
        signature,
    ]
    .concat()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, bytes).as_ref())
}

/// Leading and trailing whitespace dropped, inner runs as one space.
fn push_collapsed(out: &mut String, value: &str) {
    // Most values (a date, a host, a kilobyte of session token) have nothing to collapse: one
    // byte scan instead of decoding every character. Non-ASCII bytes take the general path,
    // where Unicode whitespace counts too.
    // Every byte looked at (no early exit), so the check runs on whole vectors.
    if value.bytes().fold(true, |graphic, byte| graphic & byte.is_ascii_graphic()) {
        out.push_str(value);
        return;
    }
    for (i, word) in value.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
}

/// Pairs sorted by name then value, each side encoded once (as the SDK sends them).
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let (mut name_out, mut value_out) = (String::new(), String::new());
            encode_into(&mut name_out, &decode(name), false);
            encode_into(&mut value_out, &decode(value), false);
            (name_out, value_out)
        })
        .collect();
    pairs.sort();
    pairs.into_iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("&")
}

/// RFC 3986 unreserved characters stay; every other byte becomes `%XX` (the path's `/` too,
/// unless `keep_slash`). The path is encoded as sent, so its escapes are escaped again, as
/// SigV4 does for every service but S3.
fn encode_into(out: &mut String, raw: &str, keep_slash: bool) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in raw.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            b'/' if keep_slash => out.push('/'),
            _ => {
                out.push('%');
                out.push(HEX[usize::from(byte >> 4)] as char);
                out.push(HEX[usize::from(byte & 0xf)] as char);
            }
        }
    }
}

fn decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped =
            (bytes[i] == b'%').then(|| raw.get(i + 1..i + 3)).flatten().and_then(|h| u8::from_str_radix(h, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                i += 3;
            }
            None => {
                decoded.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(HEX[usize::from(byte >> 4)] as char);
        out.push(HEX[usize::from(byte & 0xf)] as char);
    }
    out
}

const AMZ_DATE: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");

/// `YYYYMMDDTHHMMSSZ` in UTC.
pub fn format_amz_date(at: SystemTime) -> String {
    OffsetDateTime::from(at).format(AMZ_DATE).unwrap_or_default()
}

pub fn parse_amz_date(raw: &str) -> Option<SystemTime> {
    time::PrimitiveDateTime::parse(raw, AMZ_DATE).ok().map(|t| t.assume_utc().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's worked example in the SigV4 documentation (IAM `ListUsers`, 2015-08-30).
    #[test]
    fn the_documented_example_signs_to_the_documented_signature() {
        let headers = [
            ("content-type", "application/x-www-form-urlencoded; charset=utf-8"),
            ("host", "iam.amazonaws.com"),
            ("x-amz-date", "20150830T123600Z"),
        ];
        let canonical =
            canonical_request("GET", "/", Some("Action=ListUsers&Version=2010-05-08"), &headers, &sha256_hex(b""));
        assert_eq!(
            sha256_hex(canonical.as_bytes()),
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
        );
        let scope = credential_scope("20150830", "us-east-1", "iam");
        let key = SigningKey::derive("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam");
        assert_eq!(
            key.signature(&string_to_sign("20150830T123600Z", &scope, &canonical)),
            "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }

    #[test]
    fn header_values_are_trimmed_and_inner_spaces_collapsed() {
        let headers =
            [("x-a", "  one   two  "), ("x-b", "nothing-to-collapse"), ("x-c", "\u{a0}caf\u{e9}\u{a0}\tau lait")];
        let canonical = canonical_request("POST", "/", None, &headers, &sha256_hex(b""));
        assert!(canonical.contains("\nx-a:one two\nx-b:nothing-to-collapse\nx-c:caf\u{e9} au lait\n"), "{canonical}");
    }

    #[test]
    fn the_path_is_encoded_again_and_the_query_sorted() {
        let canonical = canonical_request("POST", "/@connections/abc%3D", Some("b=2&a=1"), &[], &sha256_hex(b""));
        assert!(canonical.starts_with("POST\n/%40connections/abc%253D\na=1&b=2\n"), "{canonical}");
    }

    #[test]
    fn amz_dates_round_trip() {
        let at = parse_amz_date("20150830T123600Z").unwrap();
        assert_eq!(format_amz_date(at), "20150830T123600Z");
        assert_eq!(scope_date("20150830T123600Z"), "20150830");
    }
}

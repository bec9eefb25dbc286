//! Validators: check digits, checksums and decoders used to confirm candidate spans.
//!
//! All functions are pure and allocation-free unless noted; they take the candidate's bytes.

use sha2::{Digest, Sha256};

/// Luhn check over ASCII digits (separators must already be removed).
pub fn luhn(digits: &[u8]) -> bool {
    if digits.is_empty() {
        return false;
    }
    let mut sum = 0u32;
    for (i, &b) in digits.iter().rev().enumerate() {
        if !b.is_ascii_digit() {
            return false;
        }
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

/// Payment card issuer ranges (IIN) for the given digit string and length; UnionPay `62` included.
pub fn card_issuer_plausible(d: &[u8]) -> bool {
    let n = d.len();
    if !(13..=19).contains(&n) {
        return false;
    }
    let p2 = u32::from(d[0] - b'0') * 10 + u32::from(d[1] - b'0');
    let p4 = p2 * 100 + u32::from(d[2] - b'0') * 10 + u32::from(d[3] - b'0');
    match d[0] {
        b'4' => n == 13 || n == 16 || n == 19,          // Visa
        b'5' => (51..=55).contains(&p2) && n == 16,     // Mastercard
        b'2' => (2221..=2720).contains(&p4) && n == 16, // Mastercard 2-series
        b'3' => {
            ((p2 == 34 || p2 == 37) && n == 15)                    // Amex
                || ((3528..=3589).contains(&p4) && (16..=19).contains(&n)) // JCB
                || ((p2 == 36 || p2 == 38 || (3000..=3059).contains(&p4)) && (14..=19).contains(&n))
            // Diners
        }
        b'6' => {
            (p2 == 62 && (16..=19).contains(&n))                   // UnionPay
                || ((p4 == 6011 || p2 == 65 || (6440..=6499).contains(&p4)) && (16..=19).contains(&n)) // Discover
                || ((p2 == 60 || p2 == 63 || p2 == 67) && (16..=19).contains(&n))
            // Maestro / local debit
        }
        _ => false,
    }
}

/// PRC province-level region codes (first two digits of resident IDs and USCC region codes).
pub fn cn_province_code_valid(p: u32) -> bool {
    matches!(
        p,
        11..=15 | 21..=23 | 31..=37 | 41..=46 | 50..=54 | 61..=65 | 71 | 81 | 82 | 83 | 91
    )
}

fn digits_value(d: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &b in d {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(b - b'0');
    }
    Some(v)
}

/// Whether `yyyymmdd` is a real calendar date between 1900-01-01 and 2099-12-31.
pub fn date_valid(yyyymmdd: &[u8]) -> bool {
    if yyyymmdd.len() != 8 {
        return false;
    }
    let (Some(y), Some(m), Some(d)) = (
        digits_value(&yyyymmdd[0..4]),
        digits_value(&yyyymmdd[4..6]),
        digits_value(&yyyymmdd[6..8]),
    ) else {
        return false;
    };
    if !(1900..=2099).contains(&y) || !(1..=12).contains(&m) || d == 0 {
        return false;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if leap => 29,
        _ => 28,
    };
    d <= days
}

/// ISO 7064 MOD 11-2 check character for the first 17 digits of a resident ID.
pub fn cn_resident_id_check_char(first17: &[u8]) -> Option<u8> {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const C: &[u8; 11] = b"10X98765432";
    if first17.len() != 17 {
        return None;
    }
    let mut s = 0u32;
    for (i, &b) in first17.iter().enumerate() {
        if !b.is_ascii_digit() {
            return None;
        }
        s += u32::from(b - b'0') * W[i];
    }
    Some(C[(s % 11) as usize])
}

/// Full PRC resident ID validation: 18 chars, province plausible, birth date valid, check char.
pub fn cn_resident_id(id: &[u8]) -> bool {
    if id.len() != 18 {
        return false;
    }
    let Some(p) = digits_value(&id[0..2]) else {
        return false;
    };
    if !cn_province_code_valid(p) || p == 91 {
        return false;
    }
    if !date_valid(&id[6..14]) {
        return false;
    }
    match cn_resident_id_check_char(&id[..17]) {
        Some(c) => c == id[17].to_ascii_uppercase(),
        None => false,
    }
}

const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

fn uscc_value(b: u8) -> Option<u32> {
    USCC_ALPHABET.iter().position(|&c| c == b).map(|p| p as u32)
}

/// GB 32100-2015 check character for the first 17 characters of a Unified Social Credit Code.
pub fn cn_uscc_check_char(first17: &[u8]) -> Option<u8> {
    const W: [u32; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    if first17.len() != 17 {
        return None;
    }
    let mut s = 0u32;
    for (i, &b) in first17.iter().enumerate() {
        s += uscc_value(b)? * W[i];
    }
    let c = (31 - s % 31) % 31;
    Some(USCC_ALPHABET[c as usize])
}

/// Full Unified Social Credit Code validation: registration authority and type, region, check char.
pub fn cn_uscc(code: &[u8]) -> bool {
    if code.len() != 18 {
        return false;
    }
    // Registration authority code and organisation type (GB 32100 appendix).
    let kind_ok = match code[0] {
        b'1' => matches!(code[1], b'1' | b'2' | b'3' | b'9'),
        b'5' => matches!(code[1], b'1' | b'2' | b'3' | b'9'),
        b'9' => matches!(code[1], b'1' | b'2' | b'3'),
        b'Y' => matches!(code[1], b'1'),
        b'2' | b'3' | b'4' | b'6' | b'7' | b'8' | b'A' | b'N' => {
            matches!(code[1], b'1' | b'2' | b'3' | b'9')
        }
        _ => false,
    };
    if !kind_ok {
        return false;
    }
    let Some(p) = digits_value(&code[2..4]) else {
        return false;
    };
    if !cn_province_code_valid(p) || digits_value(&code[4..8]).is_none() {
        return false;
    }
    match cn_uscc_check_char(&code[..17]) {
        Some(c) => c == code[17],
        None => false,
    }
}

/// Whether an 11-digit string is a plausible PRC mobile number (carrier prefixes).
pub fn cn_mobile(d: &[u8]) -> bool {
    if d.len() != 11 || d[0] != b'1' || !d.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let (a, b) = (d[1], d[2]);
    match a {
        b'3' | b'8' => true,
        b'4' => matches!(b, b'5'..=b'9'),
        b'5' => b != b'4',
        b'6' => matches!(b, b'2' | b'5' | b'6' | b'7'),
        b'7' => matches!(b, b'0'..=b'8'),
        b'9' => b != b'4',
        _ => false,
    }
}

const B58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

fn b58_value(b: u8) -> Option<u32> {
    B58.iter().position(|&c| c == b).map(|p| p as u32)
}

/// Decodes base58 into `out` (big-endian), returning the byte length; `None` on a bad character
/// or overflow of the 64-byte buffer.
pub fn base58_decode(s: &[u8], out: &mut [u8; 64]) -> Option<usize> {
    let mut len = 0usize; // bytes used, stored little-endian in out[..len]
    let mut buf = [0u8; 64];
    for &c in s {
        let mut carry = b58_value(c)?;
        for byte in buf.iter_mut().take(len) {
            carry += u32::from(*byte) * 58;
            *byte = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            if len >= buf.len() {
                return None;
            }
            buf[len] = (carry & 0xff) as u8;
            len += 1;
            carry >>= 8;
        }
    }
    let zeros = s.iter().take_while(|&&c| c == b'1').count();
    let total = zeros + len;
    if total > out.len() {
        return None;
    }
    out[..zeros].fill(0);
    for i in 0..len {
        out[zeros + i] = buf[len - 1 - i];
    }
    Some(total)
}

/// Base58check validation of a Bitcoin WIF private key (mainnet 0x80 or testnet 0xef,
/// 32-byte key, optional 0x01 compression flag).
pub fn wif(s: &[u8]) -> bool {
    let mut out = [0u8; 64];
    let Some(n) = base58_decode(s, &mut out) else {
        return false;
    };
    let payload_len = match n {
        37 => 33,
        38 => 34,
        _ => return false,
    };
    let payload = &out[..payload_len];
    if payload[0] != 0x80 && payload[0] != 0xef {
        return false;
    }
    if payload_len == 34 && payload[33] != 0x01 {
        return false;
    }
    let h = Sha256::digest(Sha256::digest(payload));
    h[..4] == out[payload_len..n]
}

/// CRC-32 (IEEE) as used by GitHub's token checksum.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xedb8_8320 & mask);
        }
    }
    !crc
}

const B62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Base62 encoding of `v` left-padded with `0` to `width` characters.
pub fn base62_fixed(mut v: u32, width: usize) -> Vec<u8> {
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = B62[(v % 62) as usize];
        v /= 62;
    }
    out
}

/// GitHub classic token checksum: the last 6 characters are base62(CRC32(prefix + 30 random)).
pub fn github_token_checksum(token: &[u8]) -> bool {
    // ghp_ + 30 random + 6 checksum
    if token.len() != 40 || token[3] != b'_' {
        return false;
    }
    let crc = crc32(&token[4..34]);
    base62_fixed(crc, 6) == token[34..40]
}

fn b64_value(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => u32::from(c - b'A'),
        b'a'..=b'z' => u32::from(c - b'a') + 26,
        b'0'..=b'9' => u32::from(c - b'0') + 52,
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    })
}

/// Decodes standard or URL-safe base64 (padding optional); `None` on invalid input.
pub fn base64_decode(s: &[u8]) -> Option<Vec<u8>> {
    let s = match s.iter().position(|&c| c == b'=') {
        Some(p) => &s[..p],
        None => s,
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for &c in s {
        acc = (acc << 6) | b64_value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Encodes base64 with the given alphabet (`url` = URL-safe), with or without padding.
pub fn base64_encode(data: &[u8], url: bool, pad: bool) -> String {
    let alpha: &[u8; 64] = if url {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let n = chunk.len() + 1;
        for i in 0..4 {
            if i < n {
                out.push(alpha[((v >> (18 - 6 * i)) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// Whether a JWT's first segment base64url-decodes to a JSON object header carrying `alg`.
pub fn jwt_header(segment: &[u8]) -> bool {
    let Some(bytes) = base64_decode(segment) else {
        return false;
    };
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(m)) => m.contains_key("alg") || m.contains_key("typ"),
        _ => false,
    }
}

/// Shannon entropy in bits per byte.
pub fn shannon_entropy(s: &[u8]) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u16; 256];
    for &b in s {
        counts[b as usize] = counts[b as usize].saturating_add(1);
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_known_values() {
        assert!(luhn(b"4111111111111111"));
        assert!(!luhn(b"4111111111111112"));
        assert!(luhn(b"6212345678901232"));
        assert!(card_issuer_plausible(b"6212345678901232"));
        assert!(!card_issuer_plausible(b"1732185600123456789"));
    }

    #[test]
    fn resident_id_checksum() {
        // The GB 11643 example number.
        assert!(cn_resident_id(b"11010519491231002X"));
        assert!(cn_resident_id(b"11010519491231002x"));
        assert!(!cn_resident_id(b"110105194912310021"));
        assert!(!cn_resident_id(b"11010519491331002X")); // month 13
        assert!(!cn_resident_id(b"99010519491231002X")); // region
    }

    #[test]
    fn uscc_checksum() {
        // A published code format example with a computed check char.
        let mut code = b"91350100M000100Y4".to_vec();
        let c = cn_uscc_check_char(&code).unwrap();
        code.push(c);
        assert!(cn_uscc(&code));
        code[17] = if c == b'0' { b'1' } else { b'0' };
        assert!(!cn_uscc(&code));
    }

    #[test]
    fn wif_known_key() {
        // Bitcoin wiki WIF example.
        assert!(wif(b"5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTJ"));
        assert!(!wif(b"5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTK"));
    }

    #[test]
    fn crc_and_base64() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        let e = base64_encode(b"hello world", false, true);
        assert_eq!(e, "aGVsbG8gd29ybGQ=");
        assert_eq!(base64_decode(e.as_bytes()).unwrap(), b"hello world");
        assert!(jwt_header(b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"));
        assert!(!jwt_header(b"eyJub3RoaW5nIjoxfQ"));
    }

    #[test]
    fn dates() {
        assert!(date_valid(b"20000229"));
        assert!(!date_valid(b"19000229"));
        assert!(!date_valid(b"20230431"));
    }

    #[test]
    fn mobile_prefixes() {
        assert!(cn_mobile(b"13812345678"));
        assert!(!cn_mobile(b"12812345678"));
        assert!(!cn_mobile(b"15412345678"));
    }
}

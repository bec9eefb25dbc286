//! BIP-39 word lists (English and Chinese simplified, the official 2048-word lists embedded from
//! `data/`) and mnemonic checksum verification.

use sha2::{Digest, Sha256};
use std::sync::OnceLock;

const ENGLISH_TXT: &str = include_str!("../data/bip39_english.txt");
const CHINESE_TXT: &str = include_str!("../data/bip39_chinese_simplified.txt");

/// A BIP-39 word list language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// The English list (sorted, 3–8 letters).
    English,
    /// The Chinese (simplified) list (one character per word).
    ChineseSimplified,
}

struct Lists {
    english: Vec<&'static str>,
    /// English words packed big-endian into `u64` (all are 3–8 ASCII letters), sorted like the
    /// list, so lookups compare integers instead of strings.
    english_packed: Vec<u64>,
    /// One bit per hash of a packed word: most non-words are rejected with one lookup.
    english_filter: Vec<u64>,
    /// (character, index) sorted by character.
    chinese: Vec<(char, u16)>,
    chinese_words: Vec<char>,
}

fn lists() -> &'static Lists {
    static L: OnceLock<Lists> = OnceLock::new();
    L.get_or_init(|| {
        let english: Vec<&'static str> = ENGLISH_TXT.split_whitespace().collect();
        let chinese_words: Vec<char> = CHINESE_TXT
            .split_whitespace()
            .filter_map(|w| w.chars().next())
            .collect();
        let mut chinese: Vec<(char, u16)> = chinese_words
            .iter()
            .enumerate()
            .map(|(i, &c)| (c, i as u16))
            .collect();
        chinese.sort_unstable();
        let english_packed: Vec<u64> = english.iter().map(|w| pack(w.as_bytes())).collect();
        let mut english_filter = vec![0u64; FILTER_BITS / 64];
        for &w in &english_packed {
            let h = filter_hash(w);
            english_filter[h / 64] |= 1 << (h % 64);
        }
        Lists {
            english,
            english_packed,
            english_filter,
            chinese,
            chinese_words,
        }
    })
}

/// Packs up to eight bytes big-endian, left-aligned (zero padding sorts first, as in strings).
fn pack(w: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = w.len().min(8);
    b[..n].copy_from_slice(&w[..n]);
    u64::from_be_bytes(b)
}

const FILTER_BITS: usize = 1 << 16;

fn filter_hash(packed: u64) -> usize {
    (packed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 48) as usize
}

/// Index of an English BIP-39 word (lower-case ASCII), if it is in the list.
pub fn english_index(word: &[u8]) -> Option<u16> {
    if !(3..=8).contains(&word.len()) {
        return None;
    }
    let l = lists();
    let p = pack(word);
    let h = filter_hash(p);
    if l.english_filter[h / 64] & (1 << (h % 64)) == 0 {
        return None;
    }
    l.english_packed.binary_search(&p).ok().map(|i| i as u16)
}

/// Index of a Chinese (simplified) BIP-39 word.
pub fn chinese_index(c: char) -> Option<u16> {
    let l = &lists().chinese;
    l.binary_search_by(|(k, _)| k.cmp(&c)).ok().map(|i| l[i].1)
}

/// The word at `index` in `lang`'s list (for generators and tests).
pub fn word(lang: Language, index: u16) -> Option<String> {
    let l = lists();
    match lang {
        Language::English => l.english.get(usize::from(index)).map(|s| (*s).to_string()),
        Language::ChineseSimplified => l
            .chinese_words
            .get(usize::from(index))
            .map(|c| c.to_string()),
    }
}

/// Whether the word indices form a valid mnemonic: 12, 15, 18, 21 or 24 words whose trailing
/// checksum bits equal the first bits of SHA-256(entropy).
pub fn checksum_valid(indices: &[u16]) -> bool {
    let n = indices.len();
    if !matches!(n, 12 | 15 | 18 | 21 | 24) {
        return false;
    }
    let total_bits = n * 11;
    let cs_bits = total_bits / 33;
    let ent_bits = total_bits - cs_bits;
    let mut entropy = [0u8; 33];
    let mut bit = 0usize;
    let mut checksum = 0u8;
    for &idx in indices {
        for k in (0..11).rev() {
            let v = ((idx >> k) & 1) as u8;
            if bit < ent_bits {
                entropy[bit / 8] |= v << (7 - bit % 8);
            } else {
                checksum = (checksum << 1) | v;
            }
            bit += 1;
        }
    }
    let h = Sha256::digest(&entropy[..ent_bits / 8]);
    (h[0] >> (8 - cs_bits)) == checksum
}

/// Builds a mnemonic's word indices from entropy (16–32 bytes, multiple of 4).
pub fn indices_from_entropy(entropy: &[u8]) -> Option<Vec<u16>> {
    if !matches!(entropy.len(), 16 | 20 | 24 | 28 | 32) {
        return None;
    }
    let cs_bits = entropy.len() * 8 / 32;
    let h = Sha256::digest(entropy);
    let mut bits: Vec<u8> = Vec::with_capacity(entropy.len() * 8 + cs_bits);
    for &b in entropy {
        for k in (0..8).rev() {
            bits.push((b >> k) & 1);
        }
    }
    for k in 0..cs_bits {
        bits.push((h[0] >> (7 - k)) & 1);
    }
    Some(
        bits.chunks(11)
            .map(|c| c.iter().fold(0u16, |a, &b| (a << 1) | u16::from(b)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_complete() {
        assert_eq!(lists().english.len(), 2048);
        assert_eq!(lists().chinese.len(), 2048);
        assert_eq!(english_index(b"abandon"), Some(0));
        assert_eq!(english_index(b"zoo"), Some(2047));
        assert_eq!(chinese_index('的'), Some(0));
        assert_eq!(english_index(b"chela"), None);
    }

    #[test]
    fn reference_vector_checksum() {
        // BIP-39 test vector: 00…00 entropy -> "abandon ×11 about".
        let mut idx = vec![0u16; 11];
        idx.push(english_index(b"about").unwrap());
        assert!(checksum_valid(&idx));
        idx[11] = english_index(b"abandon").unwrap();
        assert!(!checksum_valid(&idx));
        let from = indices_from_entropy(&[0u8; 16]).unwrap();
        assert_eq!(from[11], english_index(b"about").unwrap());
        // 24-word vector: ff…ff -> "zoo ×23 vote".
        let v = indices_from_entropy(&[0xffu8; 32]).unwrap();
        assert_eq!(v[23], english_index(b"vote").unwrap());
        assert!(checksum_valid(&v));
    }
}

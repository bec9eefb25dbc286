//! Capping text shown to the model, with a note saying what was cut.

/// Returns `text` if it fits in `limit` bytes; otherwise its head and tail with a note in between.
pub fn cap_text(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let head_len = floor_boundary(text, limit * 2 / 3);
    let tail_start = ceil_boundary(text, text.len() - (limit - head_len).min(text.len()));
    let cut = tail_start - head_len;
    format!(
        "{}\n[… {cut} bytes cut: showing the first {head_len} and last {} of {} bytes …]\n{}",
        &text[..head_len],
        text.len() - tail_start,
        text.len(),
        &text[tail_start..]
    )
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_untouched() {
        assert_eq!(cap_text("abc", 10), "abc");
    }

    #[test]
    fn long_text_keeps_head_and_tail_and_says_so() {
        let t = "a".repeat(1000) + &"z".repeat(1000);
        let c = cap_text(&t, 300);
        assert!(c.starts_with(&"a".repeat(200)));
        assert!(c.ends_with(&"z".repeat(100)));
        assert!(c.contains("1700 bytes cut"), "{c}");
    }

    #[test]
    fn multibyte_text_is_cut_on_char_boundaries() {
        let t = "中".repeat(1000);
        let c = cap_text(&t, 301);
        assert!(c.contains("bytes cut"));
    }
}

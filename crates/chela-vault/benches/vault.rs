//! Vault costs: Argon2id key derivation at the default cost, opening a 20-entry vault, and one
//! atomic write (seal + fsync + rename).

use criterion::{criterion_group, criterion_main, Criterion};

use chela_vault::{crypto, KdfParams, PassphraseSource, Secret, Vault};

fn pw() -> PassphraseSource {
    PassphraseSource::Value(Secret::new("bench passphrase 123".into()))
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("vault");
    g.sample_size(10);
    g.bench_function("argon2id_default_64MiB_t3", |b| {
        b.iter(|| crypto::derive_key(b"bench passphrase 123", &[7; 16], &KdfParams::default()))
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.vault");
    let quick = KdfParams {
        m_cost_kib: 8 * 1024,
        t_cost: 1,
        p_cost: 1,
    };
    let mut v = Vault::create_with_params(&path, &pw(), quick).expect("create");
    for i in 0..20 {
        v.set(&format!("key{i}"), "sk-bench-0123456789abcdef")
            .expect("set");
    }
    g.bench_function("open_20_entries_8MiB_t1", |b| {
        b.iter(|| Vault::open(&path, &pw()).expect("open"))
    });
    g.bench_function("rotate_one_entry_atomic_write", |b| {
        b.iter(|| {
            v.rotate("key3", "sk-bench-rotated-0123456")
                .expect("rotate")
        })
    });
    g.bench_function("peek_one_entry", |b| {
        b.iter(|| v.peek("key7").expect("peek"))
    });
    g.finish();
}

criterion_group!(vault, benches);
criterion_main!(vault);

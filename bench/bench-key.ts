// The admin key every bench server starts with (STRATO_ADMIN_KEY), and the header that carries it. The
// raw node:http baseline ignores the header; it costs both sides the same few bytes.

export const BENCH_API_KEY = `strato_sk_bench_${'b'.repeat(32)}`;

export const AUTHORIZATION = `Bearer ${BENCH_API_KEY}`;

// sign_bench: signatures per second and per-operation latency, in one run on one token key,
// for three paths (the provider-core benchmark; bench/run.sh runs it):
//   raw       PKCS#11 C_SignInit + C_Sign on a session-object copy of the key: the token's
//             own limit, with nothing of ours on the path but the call wrapper;
//   provider  EVP_DigestSignInit_ex + EVP_DigestSign through OpenSSL with the key loaded
//             from its pkcs11: URI by this provider (a fresh EVP_MD_CTX per operation, as
//             TLS does);
//   default   the same EVP calls with an in-memory key of the same type in OpenSSL's default
//             provider.
// Each path runs with 1 and 2 threads for a fixed time, split into rounds that alternate
// raw, provider, default, raw, ... so that a shared machine's drifting load falls on all
// three alike (measured sequentially, two cells of the same path differed by 20% here). The
// report gives ops/s, median and p99 latency over all rounds, the provider's ratio to raw
// (the median of the per-round ratios) and its added microseconds per operation, and how
// each path scales from 1 to 2 threads.
//
//   sign_bench --module SO --pin-file F --uri URI --alg rsa-pkcs1|rsa-pss|ecdsa
//              [--seconds N] [--rounds R] [--threads 1,2] [--profile raw|provider|default]
// --profile runs only that path, 1 thread, for --seconds, and prints its row: a target for
// `perf record --call-graph dwarf`, whose share of time inside C_SignInit + C_Sign per path
// gives the provider's cost independently of the machine's drifting load.
// The provider comes from OPENSSL_CONF (a section that activates pkcs11 and default).
#include "pkcs11/library.hpp"
#include "pkcs11/module.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/store.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
    std::string module, pin_file, uri, alg = "rsa-pkcs1";
    double seconds = 3.0;
    int rounds = 6;
    std::vector<int> threads = {1, 2};
    std::string profile;
};

struct Stats {
    double ops_per_sec = 0;
    double median_us = 0;
    double p99_us = 0;
    long ops = 0;
    long failures = 0;
    double elapsed = 0;
    std::vector<double> latencies; // µs, sorted
};

// One path's rounds taken together: total operations over total time, percentiles over
// every operation.
Stats merge(const std::vector<Stats>& rounds) {
    Stats s;
    for (const Stats& r : rounds) {
        s.ops += r.ops;
        s.failures += r.failures;
        s.elapsed += r.elapsed;
        s.latencies.insert(s.latencies.end(), r.latencies.begin(), r.latencies.end());
    }
    std::sort(s.latencies.begin(), s.latencies.end());
    s.ops_per_sec = s.elapsed > 0 ? static_cast<double>(s.ops) / s.elapsed : 0;
    if (!s.latencies.empty()) {
        s.median_us = s.latencies[s.latencies.size() / 2];
        s.p99_us = s.latencies[std::min(s.latencies.size() - 1, s.latencies.size() * 99 / 100)];
    }
    return s;
}

double median(std::vector<double> v) {
    if (v.empty()) {
        return 0;
    }
    std::sort(v.begin(), v.end());
    const std::size_t m = v.size() / 2;
    return v.size() % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// Runs `op(thread_index)` in `n` threads for `seconds`, timing each call.
Stats run(int n, double seconds, const std::function<bool(int)>& op) {
    std::vector<std::vector<double>> lat(static_cast<std::size_t>(n));
    std::atomic<long> failures{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    const auto budget = std::chrono::duration<double>(seconds);
    for (int t = 0; t < n; ++t) {
        threads.emplace_back([&, t] {
            while (!go.load()) {
                std::this_thread::yield();
            }
            auto& mine = lat[static_cast<std::size_t>(t)];
            mine.reserve(200000);
            const auto end = Clock::now() + budget;
            while (Clock::now() < end) {
                const auto t0 = Clock::now();
                const bool ok = op(t);
                const auto t1 = Clock::now();
                if (!ok) {
                    ++failures;
                    continue;
                }
                mine.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
            }
        });
    }
    const auto start = Clock::now();
    go = true;
    for (auto& th : threads) {
        th.join();
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    std::vector<double> all;
    for (auto& v : lat) {
        all.insert(all.end(), v.begin(), v.end());
    }
    Stats s;
    s.ops = static_cast<long>(all.size());
    s.failures = failures.load();
    s.elapsed = elapsed;
    s.ops_per_sec = static_cast<double>(all.size()) / elapsed;
    s.latencies = std::move(all);
    return s;
}

const unsigned char kSha256Prefix[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                       0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};

// The raw path: one session per thread, the key copied into a session object.
struct RawPath {
    std::shared_ptr<hsmp::p11::Object> key;
    std::vector<CK_SESSION_HANDLE> sessions;
    std::vector<CK_OBJECT_HANDLE> copies;
    std::string alg;

    bool sign(int t) {
        const hsmp::p11::Module& mod = key->token()->module();
        std::vector<unsigned char> msg(64, 0x42), digest(32);
        unsigned int dlen = 0;
        EVP_Digest(msg.data(), msg.size(), digest.data(), &dlen, EVP_sha256(), nullptr);
        CK_RSA_PKCS_PSS_PARAMS pss{CKM_SHA256, CKG_MGF1_SHA256, 32};
        CK_MECHANISM mech{CKM_ECDSA, nullptr, 0};
        std::vector<unsigned char> input = digest;
        if (alg == "rsa-pkcs1") {
            mech.mechanism = CKM_RSA_PKCS;
            input.assign(kSha256Prefix, kSha256Prefix + sizeof kSha256Prefix);
            input.insert(input.end(), digest.begin(), digest.end());
        } else if (alg == "rsa-pss") {
            mech = {CKM_RSA_PKCS_PSS, &pss, sizeof pss};
        }
        const auto s = sessions[static_cast<std::size_t>(t)];
        if (mod.call("C_SignInit", &CK_FUNCTION_LIST::C_SignInit, s, &mech,
                     copies[static_cast<std::size_t>(t)]) != CKR_OK) {
            return false;
        }
        unsigned char sig[1024];
        CK_ULONG len = sizeof sig;
        return mod.call("C_Sign", &CK_FUNCTION_LIST::C_Sign, s, input.data(),
                        static_cast<CK_ULONG>(input.size()), sig, &len) == CKR_OK;
    }
};

bool setup_raw(RawPath& raw, const Options& o, int threads) {
    hsmp::p11::LibraryConfig cfg;
    cfg.module.path = o.module;
    cfg.token_pin = hsmp::p11::config_pin("file:" + o.pin_file).value();
    static hsmp::p11::Library lib(std::move(cfg)); // lives for the whole run
    auto parsed = hsmp::uri::parse(o.uri);
    if (!parsed) {
        std::fprintf(stderr, "sign_bench: %s\n", parsed.error.message.c_str());
        return false;
    }
    auto key = lib.find_private_key(*parsed.uri);
    if (!key) {
        std::fprintf(stderr, "sign_bench: %s\n", key.error().message().c_str());
        return false;
    }
    raw.key = key.value();
    raw.alg = o.alg;
    const hsmp::p11::Module& mod = raw.key->token()->module();
    for (int t = 0; t < threads; ++t) {
        CK_SESSION_HANDLE s = 0;
        if (mod.call("C_OpenSession", &CK_FUNCTION_LIST::C_OpenSession, raw.key->token()->slot_id(),
                     CK_FLAGS{CKF_SERIAL_SESSION}, nullptr, CK_NOTIFY{nullptr}, &s) != CKR_OK) {
            return false;
        }
        auto lease = raw.key->token()->session();
        CK_OBJECT_HANDLE h = raw.key->handle(lease.value()).value();
        CK_BBOOL no = CK_FALSE;
        CK_ATTRIBUTE tmpl[] = {{CKA_TOKEN, &no, sizeof no}};
        CK_OBJECT_HANDLE copy = 0;
        if (mod.call("C_CopyObject", &CK_FUNCTION_LIST::C_CopyObject, s, h, tmpl, CK_ULONG{1},
                     &copy) != CKR_OK) {
            copy = h; // the token refuses copies: sign with the token object
        }
        raw.sessions.push_back(s);
        raw.copies.push_back(copy);
    }
    return true;
}

EVP_PKEY* load_provider_key(const std::string& uri) {
    OSSL_STORE_CTX* store = OSSL_STORE_open(uri.c_str(), nullptr, nullptr, nullptr, nullptr);
    EVP_PKEY* pkey = nullptr;
    while (store != nullptr && pkey == nullptr && OSSL_STORE_eof(store) == 0) {
        OSSL_STORE_INFO* info = OSSL_STORE_load(store);
        if (info != nullptr && OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY) {
            pkey = OSSL_STORE_INFO_get1_PKEY(info);
        }
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(store);
    return pkey;
}

bool evp_sign(EVP_PKEY* pkey, const std::string& alg) {
    static const std::vector<unsigned char> msg(64, 0x42);
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    EVP_PKEY_CTX* pctx = nullptr;
    bool ok = EVP_DigestSignInit_ex(md, &pctx, "SHA256", nullptr, nullptr, pkey, nullptr) == 1;
    if (ok && alg == "rsa-pss") {
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
    }
    unsigned char sig[1024];
    size_t len = sizeof sig;
    ok = ok && EVP_DigestSign(md, sig, &len, msg.data(), msg.size()) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

void row(const char* path, int threads, const Stats& s) {
    std::printf("| %-8s | %d | %9.0f | %8.1f | %8.1f | %ld |\n", path, threads, s.ops_per_sec,
                s.median_us, s.p99_us, s.failures);
}

} // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i];
        const std::string v = argv[i + 1];
        if (k == "--module") {
            o.module = v;
        } else if (k == "--pin-file") {
            o.pin_file = v;
        } else if (k == "--uri") {
            o.uri = v;
        } else if (k == "--alg") {
            o.alg = v;
        } else if (k == "--seconds") {
            o.seconds = std::stod(v);
        } else if (k == "--profile") {
            o.profile = v;
        } else if (k == "--rounds") {
            o.rounds = std::max(1, std::stoi(v));
        } else if (k == "--threads") {
            o.threads.clear();
            for (char c : v) {
                if (c >= '1' && c <= '9') {
                    o.threads.push_back(c - '0');
                }
            }
        }
    }
    if (o.module.empty() || o.pin_file.empty() || o.uri.empty() ||
        (!o.profile.empty() && o.profile != "raw" && o.profile != "provider" &&
         o.profile != "default")) {
        std::fprintf(stderr, "usage: sign_bench --module SO --pin-file F --uri URI "
                             "--alg rsa-pkcs1|rsa-pss|ecdsa [--seconds N] [--rounds R] "
                             "[--threads 12] [--profile raw|provider|default]\n");
        return 2;
    }
    const int max_threads = *std::max_element(o.threads.begin(), o.threads.end());
    RawPath raw;
    if (!setup_raw(raw, o, max_threads)) {
        return 1;
    }
    EVP_PKEY* prov_key = load_provider_key(o.uri);
    if (prov_key == nullptr) {
        std::fprintf(stderr, "sign_bench: the provider could not load %s:\n", o.uri.c_str());
        ERR_print_errors_fp(stderr);
        return 1;
    }
    EVP_PKEY* soft_key = o.alg == "ecdsa"
                             ? EVP_PKEY_Q_keygen(nullptr, "provider=default", "EC", "P-256")
                             : EVP_PKEY_Q_keygen(nullptr, "provider=default", "RSA",
                                                 static_cast<size_t>(EVP_PKEY_get_bits(prov_key)));
    if (!o.profile.empty()) {
        const Stats st = o.profile == "raw" ? run(1, o.seconds, [&](int t) { return raw.sign(t); })
                         : o.profile == "provider"
                             ? run(1, o.seconds, [&](int) { return evp_sign(prov_key, o.alg); })
                             : run(1, o.seconds, [&](int) { return evp_sign(soft_key, o.alg); });
        row(o.profile.c_str(), 1, merge({st}));
        EVP_PKEY_free(prov_key);
        EVP_PKEY_free(soft_key);
        return 0;
    }
    std::printf("\n%s, key %s, %.1f s per cell in %d alternating rounds\n\n", o.alg.c_str(),
                o.uri.c_str(), o.seconds, o.rounds);
    std::printf("| path     | threads | ops/s | median µs | p99 µs | failures |\n");
    std::printf("|---|---|---|---|---|---|\n");
    const double slice = o.seconds / o.rounds;
    std::vector<double> raw_rate, prov_rate; // per thread count, for the scaling line
    for (const int n : o.threads) {
        std::vector<Stats> r, p, d;
        std::vector<double> ratios;
        for (int i = 0; i < o.rounds; ++i) {
            r.push_back(run(n, slice, [&](int t) { return raw.sign(t); }));
            p.push_back(run(n, slice, [&](int) { return evp_sign(prov_key, o.alg); }));
            d.push_back(run(n, slice, [&](int) { return evp_sign(soft_key, o.alg); }));
            ratios.push_back(p.back().ops_per_sec / r.back().ops_per_sec);
        }
        const Stats rs = merge(r);
        const Stats ps = merge(p);
        const Stats ds = merge(d);
        row("raw", n, rs);
        row("provider", n, ps);
        row("default", n, ds);
        // Added time per operation: from the throughputs (n threads share the work), and
        // from the medians.
        const double added_mean = n * (1e6 / ps.ops_per_sec - 1e6 / rs.ops_per_sec);
        std::printf("| provider/raw | %d | %.1f%% | %+.1f µs/op (median), %+.1f µs/op (mean) | "
                    "per-round ratios %.1f%%..%.1f%% | |\n",
                    n, 100.0 * median(ratios), ps.median_us - rs.median_us, added_mean,
                    100.0 * *std::min_element(ratios.begin(), ratios.end()),
                    100.0 * *std::max_element(ratios.begin(), ratios.end()));
        raw_rate.push_back(rs.ops_per_sec);
        prov_rate.push_back(ps.ops_per_sec);
        if (ps.failures > 0 || rs.failures > 0) {
            ERR_print_errors_fp(stderr);
        }
    }
    if (o.threads.size() == 2 && o.threads[0] == 1 && o.threads[1] == 2) {
        std::printf("\nscaling 1 -> 2 threads: raw %.2fx, provider %.2fx\n",
                    raw_rate[1] / raw_rate[0], prov_rate[1] / prov_rate[0]);
    }
    EVP_PKEY_free(prov_key);
    EVP_PKEY_free(soft_key);
    return 0;
}

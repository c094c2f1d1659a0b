// Small OpenSSL helpers the in-process provider tests share.
#pragma once

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/store.h>

#include <string>

namespace hsmp::test {

/// OpenSSL's error queue as text, for assertion messages: every entry, with the data string
/// the provider attaches (the URI, the PKCS#11 function, the CKR_* name). Empties the queue.
inline std::string drain_errors() {
    std::string all;
    const char* data = nullptr;
    int flags = 0;
    unsigned long e = 0;
    while ((e = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        all += buf;
        if ((flags & ERR_TXT_STRING) != 0 && data != nullptr) {
            all += " | ";
            all += data;
        }
        all += "\n";
    }
    return all;
}

/// The first private key OSSL_STORE finds for `uri` in `libctx`, or nullptr (the errors stay
/// on the queue for the caller to assert on). The caller frees it.
inline EVP_PKEY* load_private_key(OSSL_LIB_CTX* libctx, const std::string& uri) {
    OSSL_STORE_CTX* store = OSSL_STORE_open_ex(uri.c_str(), libctx, nullptr, nullptr, nullptr,
                                               nullptr, nullptr, nullptr);
    if (store == nullptr) {
        return nullptr;
    }
    EXPECT_EQ(OSSL_STORE_expect(store, OSSL_STORE_INFO_PKEY), 1);
    EVP_PKEY* key = nullptr;
    for (int guard = 0; guard < 100 && key == nullptr && OSSL_STORE_eof(store) == 0; ++guard) {
        OSSL_STORE_INFO* info = OSSL_STORE_load(store);
        if (info != nullptr && OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY) {
            key = OSSL_STORE_INFO_get1_PKEY(info);
        }
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(store);
    return key;
}

} // namespace hsmp::test

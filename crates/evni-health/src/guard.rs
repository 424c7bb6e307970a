//! Webhook targets must be public: a tenant must not make evni call its
//! own network (SSRF). Checked when an endpoint is created and again for
//! every delivery, after DNS resolution, by the outbound client's resolver.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why a URL is refused, for the 422.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UrlRefused(pub String);

/// Whether an address is on the public internet. An IPv6 address that
/// carries an IPv4 address (mapped, compatible, translated, NAT64, 6to4,
/// Teredo) is judged by the IPv4 address inside, since that is where
/// a relay or the host's stack would send the packet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            let embedded = embedded_v4(v6);
            if embedded.is_empty() {
                is_public_v6(v6)
            } else {
                embedded.into_iter().all(is_public_v4)
            }
        }
    }
}

/// The IPv4 addresses an IPv6 address embeds, by the ranges that do so.
fn embedded_v4(ip: Ipv6Addr) -> Vec<Ipv4Addr> {
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        // ::/96 IPv4-compatible (also :: and ::1), ::ffff:0:0/96 mapped,
        // ::ffff:0:0:0/96 translated (RFC 2765).
        [0, 0, 0, 0, 0, 0, hi, lo] | [0, 0, 0, 0, 0, 0xffff, hi, lo] | [0, 0, 0, 0, 0xffff, 0, hi, lo] => {
            vec![v4(hi, lo)]
        }
        // 64:ff9b::/96 NAT64 (well-known prefix).
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => vec![v4(hi, lo)],
        // 2002::/16 6to4: the IPv4 address follows the prefix.
        [0x2002, hi, lo, ..] => vec![v4(hi, lo)],
        // 2001::/32 Teredo: the server, then the client obfuscated (XOR).
        [0x2001, 0, server_hi, server_lo, _, _, client_hi, client_lo] => {
            vec![v4(server_hi, server_lo), v4(!client_hi, !client_lo)]
        }
        _ => Vec::new(),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, _, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 192 && b == 0 && ip.octets()[2] == 0)) // IETF protocol assignments
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link local
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || first == 0x0064 && ip.segments()[1] == 0xff9b) // NAT64 (local-use 64:ff9b:1::/48 too)
}

/// Checks a webhook URL: http or https, a host, and (unless
/// `allow_private`) only public addresses behind it.
pub async fn check_url(url: &str, allow_private: bool) -> Result<reqwest::Url, UrlRefused> {
    let parsed = reqwest::Url::parse(url).map_err(|e| UrlRefused(format!("not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(UrlRefused("the URL must start with https:// or http://".into()));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(UrlRefused(
            "credentials in the URL are not allowed; send them as \"authorization\"".into(),
        ));
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| UrlRefused("the URL has no host".into()))?
        .to_owned();
    if allow_private {
        return Ok(parsed);
    }
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addresses = resolve(&host, port)
        .await
        .map_err(|e| UrlRefused(format!("cannot resolve '{host}': {e}")))?;
    if let Some(private) = addresses.iter().find(|a| !is_public(a.ip())) {
        return Err(UrlRefused(format!(
            "'{host}' is a private, loopback or reserved address ({}); webhooks go to public addresses only",
            private.ip()
        )));
    }
    Ok(parsed)
}

/// The addresses of a host (an IP literal resolves to itself).
pub(crate) async fn resolve(host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let found: Vec<SocketAddr> = tokio::net::lookup_host((bare, port)).await?.collect();
    if found.is_empty() {
        return Err(std::io::Error::new(std::io::ErrorKind::NotFound, "no address"));
    }
    Ok(found)
}

/// The outbound client's resolver: only public addresses, so a name that
/// resolves elsewhere by the time of delivery (DNS rebinding) is refused.
pub(crate) struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = resolve(&host, 0).await?;
            let public: Vec<SocketAddr> = found.into_iter().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(
                    format!("refused: '{host}' resolves to private or reserved addresses only").into(),
                );
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_reserved_ranges_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn ipv6_forms_embedding_a_non_global_ipv4_address_are_not_public() {
        for ip in [
            "::127.0.0.1",            // IPv4-compatible
            "::10.0.0.1",             //
            "::",                     // unspecified
            "::1",                    // loopback
            "::ffff:127.0.0.1",       // mapped
            "::ffff:169.254.169.254", //
            "::ffff:0:127.0.0.1",     // translated (RFC 2765)
            "64:ff9b::127.0.0.1",     // NAT64
            "64:ff9b::192.168.0.1",   //
            "64:ff9b:1::8.8.8.8",     // local-use NAT64
            "2002:7f00:1::",          // 6to4 of 127.0.0.1
            "2002:a00:1::1",          // 6to4 of 10.0.0.1
            "2002:a9fe:a9fe::",       // 6to4 of 169.254.169.254
            // Teredo with a loopback server, then with a loopback client
            // (7f00:1 obfuscated is 80ff:fffe).
            "2001:0:7f00:1::",
            "2001:0:808:808:0:0:80ff:fffe",
            "2001:0:808:808:0:0:f5ff:fffe", // client 10.0.0.1
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn ipv6_forms_embedding_a_global_ipv4_address_stay_public() {
        for ip in [
            "::8.8.8.8",
            "::ffff:8.8.8.8",
            "::ffff:0:8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:808:808::1",              // 6to4 of 8.8.8.8
            "2001:0:808:808:0:0:fefe:fefe", // Teredo, server and client 8.8.8.8 / 1.1.1.1
            "2001:4860:4860::8888",         // not Teredo: 2001:4860::/32
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn urls_are_checked() {
        assert!(check_url("http://127.0.0.1:9/hook", false).await.is_err());
        assert!(check_url("http://10.0.0.8/hook", false).await.is_err());
        assert!(check_url("http://[::1]/hook", false).await.is_err());
        assert!(check_url("http://[::127.0.0.1]/", false).await.is_err());
        assert!(check_url("http://[2002:7f00:1::]/", false).await.is_err());
        assert!(check_url("http://[2001:0:7f00:1::]/", false).await.is_err());
        assert!(check_url("http://[64:ff9b::a00:1]/", false).await.is_err());
        assert!(check_url("http://[2002:808:808::1]/", false).await.is_ok());
        assert!(check_url("http://localhost/hook", false).await.is_err());
        assert!(check_url("ftp://example.com/", false).await.is_err());
        assert!(check_url("http://user:pw@8.8.8.8/", false).await.is_err());
        assert!(check_url("http://8.8.8.8/hook", false).await.is_ok());
        assert!(check_url("https://8.8.8.8/hook", false).await.is_ok());
        assert!(check_url("https://127.0.0.1/hook", false).await.is_err());
        assert!(check_url("http://127.0.0.1:9/hook", true).await.is_ok());
    }
}

//! The PROXY protocol (HAProxy's, versions 1 and 2): the header a load balancer sends first on
//! each connection, saying which client the connection is really from.

use std::net::SocketAddr;

use ppp::HeaderResult;
use ppp::v2::Command;

/// The longest header accepted. Version 1's is at most 107 bytes; version 2's may carry
/// extensions (TLVs) up to 64 KiB, but balancers send a few dozen bytes.
pub(crate) const MAX_HEADER: usize = 4096;

/// What the start of a connection says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parsed {
    /// More bytes are needed.
    Incomplete,
    /// A whole header of `len` bytes: the client's address, or `None` when the header carries
    /// none (`UNKNOWN`, `LOCAL`: the balancer's own health check, which speaks for itself).
    Header {
        len: usize,
        client: Option<SocketAddr>,
    },
    /// Not a PROXY header.
    Invalid(String),
}

/// Parses the PROXY header at the start of `bytes`.
pub(crate) fn parse(bytes: &[u8]) -> Parsed {
    match HeaderResult::parse(bytes) {
        HeaderResult::V1(Ok(header)) => {
            let client = match header.addresses {
                ppp::v1::Addresses::Tcp4(ip) => Some((ip.source_address, ip.source_port).into()),
                ppp::v1::Addresses::Tcp6(ip) => Some((ip.source_address, ip.source_port).into()),
                ppp::v1::Addresses::Unknown => None,
            };
            Parsed::Header {
                len: header.header.len(),
                client,
            }
        }
        HeaderResult::V2(Ok(header)) => {
            let client = match (header.command, header.addresses) {
                (Command::Proxy, ppp::v2::Addresses::IPv4(ip)) => {
                    Some((ip.source_address, ip.source_port).into())
                }
                (Command::Proxy, ppp::v2::Addresses::IPv6(ip)) => {
                    Some((ip.source_address, ip.source_port).into())
                }
                _ => None,
            };
            Parsed::Header {
                len: header.len(),
                client,
            }
        }
        result if ppp::PartialResult::is_incomplete(&result) => Parsed::Incomplete,
        HeaderResult::V1(Err(error)) => Parsed::Invalid(error.to_string()),
        HeaderResult::V2(Err(error)) => Parsed::Invalid(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_1_gives_the_client_and_its_length() {
        let header = b"PROXY TCP4 192.0.2.7 198.51.100.1 40000 12000\r\nhello";
        assert_eq!(
            parse(header),
            Parsed::Header {
                len: header.len() - 5,
                client: Some("192.0.2.7:40000".parse().expect("address")),
            }
        );
        let six = b"PROXY TCP6 2001:db8::7 2001:db8::1 40000 12000\r\n";
        assert_eq!(
            parse(six),
            Parsed::Header {
                len: six.len(),
                client: Some("[2001:db8::7]:40000".parse().expect("address")),
            }
        );
        assert_eq!(
            parse(b"PROXY UNKNOWN\r\n"),
            Parsed::Header {
                len: 15,
                client: None
            }
        );
        assert_eq!(parse(b"PROXY TCP4 192.0.2.7"), Parsed::Incomplete);
    }

    #[test]
    fn version_2_gives_the_client_and_local_gives_none() {
        let mut header = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
        header.extend([
            0x21, 0x11, 0, 12, 192, 0, 2, 7, 198, 51, 100, 1, 0x9c, 0x40, 0x2e, 0xe0,
        ]);
        let len = header.len();
        header.extend(b"hello");
        assert_eq!(
            parse(&header),
            Parsed::Header {
                len,
                client: Some("192.0.2.7:40000".parse().expect("address")),
            }
        );
        let mut local = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
        local.extend([0x20, 0x00, 0, 0]);
        assert_eq!(
            parse(&local),
            Parsed::Header {
                len: 16,
                client: None
            }
        );
        assert_eq!(parse(&header[..20]), Parsed::Incomplete);
    }

    #[test]
    fn anything_else_is_invalid() {
        assert!(matches!(parse(b"hello world\r\n"), Parsed::Invalid(_)));
        assert!(matches!(
            parse(b"PROXY TCP9 a b c d\r\n"),
            Parsed::Invalid(_)
        ));
    }
}

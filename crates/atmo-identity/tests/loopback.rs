//! The resolver over real sockets: the built-in reqwest client against a
//! small HTTP server on 127.0.0.1 (a did:web host and a PLC directory), and
//! with feature `dns`, hickory against a small DNS server on 127.0.0.1.
// Test code: unwrap, expect and panic are how a test fails
// (the workspace lints forbid them in library code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use atmo_identity::{ErrorKind, HandleStatus, Resolver, Step};
use atmo_xrpc::ReqwestClient;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use serde_json::json;

const K256: &str = "zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc";
const P256: &str = "zDnaembgSGUhZULN2Caob4HLJPaxBh92N7rtH21TErzqf8HQo";

type Routes = Arc<Mutex<HashMap<String, (u16, Vec<(String, String)>, Vec<u8>)>>>;

/// An HTTP/1.1 server on 127.0.0.1 answering paths from a table.
struct Server {
    port: u16,
    routes: Routes,
}

impl Server {
    async fn start() -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let routes: Routes = Arc::default();
        let table = routes.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let table = table.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let found = table.lock().unwrap().get(req.uri().path()).cloned();
                        async move {
                            let (status, headers, body) =
                                found.unwrap_or((404, vec![], b"not found".to_vec()));
                            let mut r = Response::builder().status(status);
                            for (k, v) in headers {
                                r = r.header(k, v);
                            }
                            Ok::<_, Infallible>(r.body(Full::new(Bytes::from(body))).unwrap())
                        }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        Server { port, routes }
    }

    fn route(&self, path: &str, status: u16, body: impl Into<Vec<u8>>) {
        self.routes
            .lock()
            .unwrap()
            .insert(path.to_owned(), (status, vec![], body.into()));
    }

    fn redirect(&self, path: &str, location: &str) {
        self.routes.lock().unwrap().insert(
            path.to_owned(),
            (302, vec![("location".into(), location.into())], vec![]),
        );
    }
}

fn document(did: &str, handle: &str, pds: &str, key: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
        "alsoKnownAs": [format!("at://{handle}")],
        "verificationMethod": [{
            "id": format!("{did}#atproto"), "type": "Multikey",
            "controller": did, "publicKeyMultibase": key
        }],
        "service": [{
            "id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
            "serviceEndpoint": pds
        }]
    }))
    .unwrap()
}

fn http() -> Arc<ReqwestClient> {
    Arc::new(ReqwestClient::new().unwrap())
}

#[tokio::test]
async fn did_web_on_loopback() {
    let server = Server::start().await;
    let did = format!("did:web:localhost%3A{}", server.port);
    server.route(
        "/.well-known/did.json",
        200,
        document(&did, "web.example.com", "https://pds.example.com", P256),
    );
    let dev = Resolver::builder(http())
        .allow_private_hosts(true)
        .allow_http_loopback(true)
        .build()
        .unwrap();
    let id = dev.resolve_identity(&did).await.unwrap();
    assert_eq!(id.did.as_str(), did);
    assert_eq!(id.pds.as_str(), "https://pds.example.com/");
    assert_eq!(id.signing_key.curve(), atmo_identity::Curve::P256);
    // web.example.com does not resolve here: the claim stays unverified.
    assert!(matches!(id.handle, HandleStatus::Unverified(_)));

    // The default resolver refuses the loopback host without connecting.
    let e = Resolver::builder(http())
        .build()
        .unwrap()
        .resolve_did(&did)
        .await
        .unwrap_err();
    assert_eq!(e.step(), Step::DidWeb);
    assert!(matches!(e.kind(), ErrorKind::Refused(_)), "{e}");
}

#[tokio::test]
async fn plc_directory_on_loopback() {
    let server = Server::start().await;
    let did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
    server.route(
        &format!("/{did}"),
        200,
        document(
            did,
            "alice.example.com",
            &format!("http://127.0.0.1:{}", server.port),
            K256,
        ),
    );
    server.route(
        "/did:plc:bbbbbbbbbbbbbbbbbbbbbbbb",
        404,
        "{\"message\":\"DID not registered\"}",
    );
    server.route(
        "/did:plc:cccccccccccccccccccccccc",
        410,
        "{\"message\":\"DID not available\"}",
    );
    let big = json!({"id": "did:plc:dddddddddddddddddddddddd", "pad": "x".repeat(200_000)});
    server.route(
        "/did:plc:dddddddddddddddddddddddd",
        200,
        serde_json::to_vec(&big).unwrap(),
    );
    server.redirect("/did:plc:eeeeeeeeeeeeeeeeeeeeeeee", &format!("/{did}"));

    let r = Resolver::builder(http())
        .plc_url(format!("http://127.0.0.1:{}", server.port))
        .allow_private_hosts(true)
        .build()
        .unwrap();
    let id = r.resolve_identity(did).await.unwrap();
    assert_eq!(id.signing_key.to_multikey(), K256);
    assert_eq!(id.pds.host(), "127.0.0.1");

    for (gone, kind) in [
        ("did:plc:bbbbbbbbbbbbbbbbbbbbbbbb", ErrorKind::NotFound),
        ("did:plc:cccccccccccccccccccccccc", ErrorKind::NotFound),
    ] {
        let e = r.resolve_did(gone).await.unwrap_err();
        assert_eq!((e.step(), e.kind()), (Step::Plc, &kind));
    }
    let e = r
        .resolve_did("did:plc:dddddddddddddddddddddddd")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("larger than"), "{e}");
    // reqwest follows the redirect itself: the document found is for
    // another DID, which the resolver refuses.
    let e = r
        .resolve_did("did:plc:eeeeeeeeeeeeeeeeeeeeeeee")
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::WrongDocument(_)), "{e}");

    // A loopback PDS counts as a private host unless allowed.
    let strict = Resolver::builder(http())
        .plc_url(format!("http://127.0.0.1:{}", server.port))
        .build()
        .unwrap();
    let e = strict.resolve_identity(did).await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Refused(_)), "{e}");
}

#[tokio::test]
async fn timeouts_are_errors_not_hangs() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let r = Resolver::builder(http())
        .plc_url(format!("http://127.0.0.1:{port}"))
        .timeout(std::time::Duration::from_millis(300))
        .build()
        .unwrap();
    let e = r
        .resolve_did("did:plc:ewvi7nxzyoun6zhxrhs64oiz")
        .await
        .unwrap_err();
    match e.kind() {
        ErrorKind::Http(h) => assert_eq!(h.kind, atmo_xrpc::HttpErrorKind::Timeout),
        other => panic!("{other:?}"),
    }
    assert!(e.is_transient());
}

#[cfg(feature = "dns")]
mod dns {
    use super::*;
    use atmo_identity::dns::SystemDns;
    use atmo_identity::DnsLookup;
    use std::time::Duration;

    /// A DNS server on 127.0.0.1 (UDP) answering TXT queries from a table
    /// (NXDOMAIN for other names, no records for other types).
    async fn dns_server(records: HashMap<String, Vec<String>>) -> std::net::SocketAddr {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 1500];
            loop {
                let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                    return;
                };
                if let Some(reply) = answer(&buf[..n], &records) {
                    let _ = socket.send_to(&reply, peer).await;
                }
            }
        });
        addr
    }

    fn answer(query: &[u8], records: &HashMap<String, Vec<String>>) -> Option<Vec<u8>> {
        // Header (12 bytes), then one question: labels, type, class.
        let mut i = 12;
        let mut labels = Vec::new();
        loop {
            let len = *query.get(i)? as usize;
            i += 1;
            if len == 0 {
                break;
            }
            labels.push(String::from_utf8_lossy(query.get(i..i + len)?).to_ascii_lowercase());
            i += len;
        }
        let qtype = u16::from_be_bytes([*query.get(i)?, *query.get(i + 1)?]);
        let question_end = i + 4;
        let name = labels.join(".");
        let found = records.get(&name);
        let answers: Vec<&String> = match (found, qtype) {
            (Some(txt), 16) => txt.iter().collect(),
            _ => vec![],
        };
        let mut out = Vec::new();
        out.extend_from_slice(query.get(0..2)?); // id
        let rcode = if found.is_none() { 3 } else { 0 }; // NXDOMAIN
        out.extend_from_slice(&[0x81, 0x80 | rcode]);
        out.extend_from_slice(&[0, 1]);
        out.extend_from_slice(&(answers.len() as u16).to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(query.get(12..question_end)?);
        for txt in answers {
            out.extend_from_slice(&[0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60]);
            // Long records are split into 255-byte character-strings.
            let mut rdata = Vec::new();
            for chunk in txt.as_bytes().chunks(255) {
                rdata.push(chunk.len() as u8);
                rdata.extend_from_slice(chunk);
            }
            out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            out.extend_from_slice(&rdata);
        }
        Some(out)
    }

    #[tokio::test]
    async fn the_system_configuration_loads() {
        // Reads /etc/resolv.conf; sends no query.
        let builder = Resolver::builder(http()).system_dns();
        assert!(builder.is_ok(), "{:?}", builder.err());
        assert!(builder.unwrap().build().is_ok());
    }

    #[tokio::test]
    async fn txt_records_through_hickory_from_a_loopback_server() {
        let alice = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
        let mut records = HashMap::new();
        records.insert(
            "_atproto.alice.example.com".to_owned(),
            vec!["v=spf1 -all".to_owned(), format!("did={alice}")],
        );
        records.insert(
            "_atproto.two.example.com".to_owned(),
            vec![
                format!("did={alice}"),
                "did=did:plc:bbbbbbbbbbbbbbbbbbbbbbbb".to_owned(),
            ],
        );
        // Longer than one 255-byte character-string: hickory hands back the
        // pieces, which are joined.
        let label = "a".repeat(59);
        let long_did = format!("did:web:{label}.{label}.{label}.{label}.example.com");
        assert!(long_did.len() > 255);
        records.insert(
            "_atproto.long.example.com".to_owned(),
            vec![format!("did={long_did}")],
        );
        let addr = dns_server(records).await;
        let dns = Arc::new(SystemDns::with_servers(&[addr], Duration::from_secs(2)).unwrap());

        let txt = dns.lookup_txt("_atproto.alice.example.com").await.unwrap();
        assert!(txt.contains(&format!("did={alice}")), "{txt:?}");
        // The largest timeout there is: no deadline arithmetic overflows.
        let patient = SystemDns::with_servers(&[addr], Duration::MAX).unwrap();
        let txt = patient
            .lookup_txt("_atproto.alice.example.com")
            .await
            .unwrap();
        assert!(txt.contains(&format!("did={alice}")), "{txt:?}");
        assert_eq!(
            dns.lookup_txt("_atproto.nobody.example.com").await,
            Err(atmo_identity::DnsError::NotFound)
        );

        let r = Resolver::builder(http())
            .dns(dns)
            .well_known(false)
            .build()
            .unwrap();
        assert_eq!(
            r.resolve_handle("ALICE.example.com")
                .await
                .unwrap()
                .as_str(),
            alice
        );
        let e = r.resolve_handle("two.example.com").await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::SeveralTxtRecords(2));
        let e = r.resolve_handle("nobody.example.com").await.unwrap_err();
        assert_eq!((e.step(), e.kind()), (Step::Dns, &ErrorKind::NotFound));
        assert!(e.is_not_found());
        assert_eq!(
            r.resolve_handle("long.example.com").await.unwrap().as_str(),
            long_did
        );
    }
}

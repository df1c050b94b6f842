//! SIP gateways: every field kept, names unique, the password write-only on
//! update, invalid settings refused whole, and the `gateways` counter bumped
//! by every change (and by nothing else).

use callcenter::gateway::config::{Gateway, IdentityHeader, Mode, Privacy, Problem, Transport};

use crate::{Store, StoreError, GATEWAYS_VERSION};

/// An IMS gateway with every field away from its default.
fn full() -> Gateway {
    Gateway {
        name: "ims-core.1".into(),
        note: "主用 IMS 中继 \"A\"".into(),
        mode: Mode::Ims,
        proxy: "ims.example.net".into(),
        port: 5070,
        transport: Transport::Tcp,
        username: "+8651200000000".into(),
        auth_username: "+8651200000000@ims.example.net".into(),
        password: "s3cret'\"".into(),
        realm: "ims.example.net".into(),
        from_user: "+8651200000000".into(),
        from_domain: "ims.example.net".into(),
        register_proxy: "198.51.100.7:5060".into(),
        outbound_proxy: "[2001:db8::7]:5062".into(),
        expire_secs: 600,
        retry_secs: 45,
        ping_secs: 20,
        caller_id_in_from: true,
        codecs: vec!["PCMA".into(), "PCMU".into(), "telephone-event".into()],
        max_calls: 120,
        strip_digits: 1,
        add_prefix: "+86".into(),
        caller_id: "051200000000".into(),
        privacy: Privacy::Id,
        identity: IdentityHeader::Ppi,
        enabled: false,
        impu: "sip:+8651200000000@ims.example.net".into(),
        impi: "+8651200000000@ims.example.net".into(),
        home_domain: "ims.example.net".into(),
        pcscf: "198.51.100.7".into(),
        addresses: vec!["198.51.100.0/24".into(), "2001:db8::/32".into()],
        srtp: true,
    }
}

fn uni(name: &str) -> Gateway {
    Gateway {
        username: "6001".into(),
        password: "pw-6001".into(),
        ..Gateway::new(name, Mode::Uni, "192.0.2.10")
    }
}

async fn version(store: &Store) -> i64 {
    store.config_version(GATEWAYS_VERSION).await.unwrap()
}

async fn every_field_is_kept_and_names_are_unique(store: &Store) {
    assert_eq!(version(store).await, 0);
    assert!(store.list_gateways().await.unwrap().is_empty());
    store.add_gateway(&full()).await.unwrap();
    assert_eq!(store.get_gateway("ims-core.1").await.unwrap(), Some(full()));
    assert_eq!(version(store).await, 1);

    let peer = Gateway::new("a-peer", Mode::Nni, "192.0.2.20");
    store.add_gateway(&peer).await.unwrap();
    let names: Vec<String> = store
        .list_gateways()
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(names, ["a-peer", "ims-core.1"]);
    assert_eq!(store.get_gateway("a-peer").await.unwrap(), Some(peer));
    assert_eq!(store.get_gateway("nope").await.unwrap(), None);

    // The same name again changes nothing.
    let again = Gateway {
        note: "other".into(),
        ..uni("ims-core.1")
    };
    assert!(matches!(
        store.add_gateway(&again).await,
        Err(StoreError::GatewayExists(n)) if n == "ims-core.1"
    ));
    assert_eq!(store.get_gateway("ims-core.1").await.unwrap(), Some(full()));
    assert_eq!(version(store).await, 2);
}

async fn an_empty_password_keeps_the_stored_one(store: &Store) {
    store.add_gateway(&uni("carrier")).await.unwrap();
    let v = version(store).await;
    let edited = Gateway {
        password: String::new(),
        note: "edited".into(),
        port: 5080,
        ..uni("carrier")
    };
    store.update_gateway(&edited).await.unwrap();
    let stored = store.get_gateway("carrier").await.unwrap().unwrap();
    assert_eq!(stored.password, "pw-6001");
    assert_eq!((stored.note.as_str(), stored.port), ("edited", 5080));
    assert_eq!(version(store).await, v + 1);

    let new_password = Gateway {
        password: "changed".into(),
        ..edited.clone()
    };
    assert!(!store.upsert_gateway(&new_password).await.unwrap());
    assert_eq!(
        store
            .get_gateway("carrier")
            .await
            .unwrap()
            .unwrap()
            .password,
        "changed"
    );
    assert!(matches!(
        store.update_gateway(&uni("missing")).await,
        Err(StoreError::GatewayNotFound(n)) if n == "missing"
    ));
    // A new gateway that needs a password must bring one.
    let no_password = Gateway {
        password: String::new(),
        ..uni("fresh")
    };
    match store.upsert_gateway(&no_password).await {
        Err(StoreError::InvalidGateway(e)) => {
            assert_eq!(e.of("password"), Some(&Problem::Required));
        }
        other => panic!("{other:?}"),
    }
    assert!(store.upsert_gateway(&uni("fresh")).await.unwrap());
    assert_eq!(version(store).await, v + 3);
}

async fn invalid_settings_are_refused_whole(store: &Store) {
    let bad = Gateway {
        proxy: "not a host".into(),
        expire_secs: 1,
        codecs: vec!["GSM".into()],
        ..uni("bad")
    };
    let err = store.add_gateway(&bad).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("proxy") && msg.contains("expire_secs") && msg.contains("GSM"),
        "{msg}"
    );
    let StoreError::InvalidGateway(e) = err else {
        panic!("{msg}")
    };
    assert!(e.of("proxy").is_some() && e.of("codecs").is_some());
    let bad_name = Gateway {
        name: "a b".into(),
        ..uni("x")
    };
    assert!(matches!(
        store.add_gateway(&bad_name).await,
        Err(StoreError::InvalidGateway(_))
    ));
    assert!(store.list_gateways().await.unwrap().is_empty());
    assert_eq!(version(store).await, 0);
}

async fn remove_bumps_the_version_only_when_something_went(store: &Store) {
    store.add_gateway(&uni("gone")).await.unwrap();
    let v = version(store).await;
    assert!(store.remove_gateway("gone").await.unwrap());
    assert_eq!(version(store).await, v + 1);
    assert!(!store.remove_gateway("gone").await.unwrap());
    assert_eq!(version(store).await, v + 1);
    assert_eq!(store.get_gateway("gone").await.unwrap(), None);
}

on_every_backend!(
    every_field_is_kept_and_names_are_unique,
    an_empty_password_keeps_the_stored_one,
    invalid_settings_are_refused_whole,
    remove_bumps_the_version_only_when_something_went,
);

//! Voice-platform lists, media files and editing an extension.

use crate::{Extension, MediaFile, Store, StoreError, VoiceList, VOICE_VERSION};

fn pair(v: &str, n: &str) -> (String, String) {
    (v.to_string(), n.to_string())
}

async fn lists_add_skip_remove_and_bump_the_version(store: &Store) {
    assert_eq!(store.config_version(VOICE_VERSION).await.unwrap(), 0);
    let r = store
        .add_list_entries(
            VoiceList::Blacklist,
            &[pair("13800000000", "spam"), pair("13900000000", "")],
        )
        .await
        .unwrap();
    assert_eq!(r.added, ["13800000000", "13900000000"]);
    let r = store
        .add_list_entries(VoiceList::Blacklist, &[pair("13800000000", "again")])
        .await
        .unwrap();
    assert_eq!(r.skipped, ["13800000000"]);
    // Lists are separate: the same value may be in another one.
    store
        .add_list_entries(VoiceList::NumberPool, &[pair("13800000000", "")])
        .await
        .unwrap();
    let black = store.list_entries(VoiceList::Blacklist).await.unwrap();
    assert_eq!(black.len(), 2);
    assert_eq!(black[0].note, "spam", "the first note is kept");
    let v = store.config_version(VOICE_VERSION).await.unwrap();
    assert!(store
        .remove_list_entry(VoiceList::Blacklist, "13800000000")
        .await
        .unwrap());
    assert!(!store
        .remove_list_entry(VoiceList::Blacklist, "13800000000")
        .await
        .unwrap());
    assert_eq!(store.config_version(VOICE_VERSION).await.unwrap(), v + 1);
    assert!(matches!(
        store
            .add_list_entries(VoiceList::Acl, &[pair("10.0.0.0/8", ""), pair(" ", "")])
            .await,
        Err(StoreError::EmptyKey(_))
    ));
    assert!(store.list_entries(VoiceList::Acl).await.unwrap().is_empty());
    assert_eq!(
        "number_pool".parse::<VoiceList>(),
        Ok(VoiceList::NumberPool)
    );
    assert!("nope".parse::<VoiceList>().is_err());
}

async fn media_files_add_rename_remove(store: &Store) {
    let m = MediaFile {
        name: "welcome".into(),
        file: "prompts/welcome.wav".into(),
        bytes: 1234,
        duration_ms: 2500,
        uploaded_by: "admin".into(),
        created_at: 0,
        updated_at: 0,
    };
    store.add_media_file(&m).await.unwrap();
    assert!(matches!(
        store.add_media_file(&m).await,
        Err(StoreError::MediaExists(n)) if n == "welcome"
    ));
    let mut other = m.clone();
    other.name = "hold".into();
    store.add_media_file(&other).await.unwrap();
    assert!(matches!(
        store.rename_media_file("welcome", "hold").await,
        Err(StoreError::MediaExists(_))
    ));
    assert!(matches!(
        store.rename_media_file("nosuch", "x").await,
        Err(StoreError::MediaNotFound(_))
    ));
    store
        .rename_media_file("welcome", "greeting")
        .await
        .unwrap();
    let got = store.get_media_file("greeting").await.unwrap().unwrap();
    assert_eq!(
        (got.file.as_str(), got.duration_ms),
        ("prompts/welcome.wav", 2500)
    );
    let names: Vec<String> = store
        .list_media_files()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, ["greeting", "hold"]);
    assert!(store.remove_media_file("greeting").await.unwrap());
    assert!(store.get_media_file("greeting").await.unwrap().is_none());
}

async fn an_extension_is_edited_whole_and_keeps_its_password_when_none_is_given(store: &Store) {
    let ext = Extension {
        number: "1001".into(),
        password: "secret".into(),
        ..Extension::default()
    };
    store.add_extension(&ext).await.unwrap();
    let edited = Extension {
        password: String::new(),
        display_name: "Front desk".into(),
        gateway: "carrier".into(),
        webrtc: true,
        caller_ids: "62620668,62620669".into(),
        auto_answer: "queue".into(),
        ..ext.clone()
    };
    store.update_extension(&edited).await.unwrap();
    let got = store.get_extension("1001").await.unwrap().unwrap();
    assert_eq!(got.password, "secret");
    assert_eq!(
        Extension {
            password: "secret".into(),
            ..edited.clone()
        },
        got
    );
    let bad = Extension {
        auto_answer: "sometimes".into(),
        ..edited.clone()
    };
    assert!(matches!(
        store.update_extension(&bad).await,
        Err(StoreError::InvalidExtension { .. })
    ));
    let missing = Extension {
        number: "9999".into(),
        ..edited
    };
    assert!(matches!(
        store.update_extension(&missing).await,
        Err(StoreError::ExtensionNotFound(_))
    ));
}

on_every_backend!(
    lists_add_skip_remove_and_bump_the_version,
    media_files_add_rename_remove,
    an_extension_is_edited_whole_and_keeps_its_password_when_none_is_given,
);

//! Two matrix-rust-sdk clients chat with end-to-end encryption through Hearth, the way Element X
//! does: each logs in with a password and runs `SyncService` (the room list's sliding-sync
//! connection plus the encryption connection); the room list (`RoomListService`) loads and shows
//! the room; Alice creates an encrypted room and invites Bob, Bob joins, they exchange a message
//! each way and each reads the other's decrypted in a `Timeline`.
//!
//! Usage: hearth-sdk-client <homeserver URL> <alice> <alice password> <bob> <bob password>
//! Prints "OK" and exits 0 when the conversation went through; a failure says which step.

// The SDK's futures are deep: rustc's default query depth (128) overflows computing their layout.
#![recursion_limit = "256"]

use std::{env, future::Future, time::Duration};

use anyhow::{anyhow, bail, Context, Result};
use matrix_sdk::{
    ruma::{
        api::client::room::create_room::v3::Request as CreateRoomRequest,
        events::room::message::RoomMessageEventContent, OwnedRoomId, UserId,
    },
    Client, RoomState,
};
use matrix_sdk_ui::{
    room_list_service::RoomListLoadingState, sync_service::SyncService, timeline::RoomExt,
};

const STEP: Duration = Duration::from_secs(60);

async fn until<T, F, Fut>(what: &str, mut probe: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        if let Some(v) = probe().await {
            return Ok(v);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("timed out: {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sign_in(homeserver: &str, user: &str, password: &str) -> Result<(Client, SyncService)> {
    let client = Client::builder().homeserver_url(homeserver).build().await?;
    client
        .matrix_auth()
        .login_username(user, password)
        .initial_device_display_name("matrix-rust-sdk test")
        .send()
        .await
        .with_context(|| format!("login of {user}"))?;
    client.encryption().wait_for_e2ee_initialization_tasks().await;
    let sync = SyncService::builder(client.clone()).build().await.context("SyncService")?;
    sync.start().await;
    Ok((client, sync))
}

async fn room_list_loaded(sync: &SyncService, at_least: usize) -> Result<()> {
    let list = sync.room_list_service().all_rooms().await?;
    let state = list.loading_state();
    until("the room list loads from sliding sync", || {
        let current = state.get();
        async move {
            match current {
                RoomListLoadingState::Loaded { maximum_number_of_rooms: Some(n) } if n as usize >= at_least => {
                    Some(())
                }
                _ => None,
            }
        }
    })
    .await
}

async fn read_message(client: &Client, room_id: &OwnedRoomId, body: &str) -> Result<()> {
    let room = client.get_room(room_id).ok_or_else(|| anyhow!("room unknown"))?;
    let timeline = room.timeline().await?;
    until(&format!("\"{body}\" decrypted in the timeline"), || {
        let timeline = &timeline;
        async move {
            timeline.items().await.iter().find_map(|item| {
                let event = item.as_event()?;
                let message = event.content().as_message()?;
                (message.body() == body && event.encryption_info().is_some()).then_some(())
            })
        }
    })
    .await
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = env::args().collect();
    if args.len() != 6 {
        bail!("usage: {} <homeserver> <alice> <password> <bob> <password>", args[0]);
    }
    let (homeserver, alice_name, alice_pw, bob_name, bob_pw) = (&args[1], &args[2], &args[3], &args[4], &args[5]);

    let (alice, alice_sync) = sign_in(homeserver, alice_name, alice_pw).await?;
    let (bob, bob_sync) = sign_in(homeserver, bob_name, bob_pw).await?;
    let bob_id = bob.user_id().context("bob's user ID")?.to_owned();
    let alice_id = alice.user_id().context("alice's user ID")?.to_owned();
    println!("signed in: {alice_id}, {bob_id}");

    let mut request = CreateRoomRequest::new();
    request.invite = vec![bob_id.clone()];
    request.name = Some("Family".to_owned());
    let room = alice.create_room(request).await.context("create room")?;
    room.enable_encryption().await.context("enable encryption")?;
    let room_id = room.room_id().to_owned();
    println!("room {room_id} created, encrypted");

    until("Bob sees the invite in his room list", || {
        let svc = bob_sync.room_list_service();
        let room_id = room_id.clone();
        async move { svc.room(&room_id).ok().filter(|r| r.state() == RoomState::Invited) }
    })
    .await?;
    bob.join_room_by_id(&room_id).await.context("Bob joins")?;
    room_list_loaded(&bob_sync, 1).await?;
    until("Alice sees Bob joined", || {
        let room = room.clone();
        let bob_id = bob_id.clone();
        async move {
            let members = room.members(matrix_sdk::RoomMemberships::JOIN).await.ok()?;
            members.iter().any(|m| m.user_id() == <&UserId>::from(&*bob_id)).then_some(())
        }
    })
    .await?;
    until("the room is encrypted for Bob", || {
        let bob = bob.clone();
        let room_id = room_id.clone();
        async move {
            let r = bob.get_room(&room_id)?;
            r.latest_encryption_state().await.ok().filter(|s| s.is_encrypted()).map(|_| ())
        }
    })
    .await?;

    room.send(RoomMessageEventContent::text_plain("hello from alice")).await.context("Alice sends")?;
    read_message(&bob, &room_id, "hello from alice").await?;
    println!("bob read alice's encrypted message");

    let bob_room = bob.get_room(&room_id).context("Bob's room")?;
    bob_room.send(RoomMessageEventContent::text_plain("hi alice")).await.context("Bob sends")?;
    read_message(&alice, &room_id, "hi alice").await?;
    println!("alice read bob's encrypted reply");
    room_list_loaded(&alice_sync, 1).await?;

    alice_sync.stop().await;
    bob_sync.stop().await;
    println!("OK");
    Ok(())
}

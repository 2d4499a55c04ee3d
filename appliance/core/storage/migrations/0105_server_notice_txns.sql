-- 0105_server_notice_txns: the notice sent for each PUT /_synapse/admin/v1/send_server_notice/{txnId},
-- so a retried transaction (same admin device, same txnId) answers the same event and sends nothing.
CREATE TABLE server_notice_txns (
    admin_user_id   TEXT NOT NULL,
    device_id       TEXT NOT NULL,     -- '' for a token without a device
    txn_id          TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    PRIMARY KEY (admin_user_id, device_id, txn_id)
) WITHOUT ROWID;

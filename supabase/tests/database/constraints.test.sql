-- Every check, key and foreign-key rule, each with a row that must be refused.
begin;
select plan(74);
set local client_min_messages = warning;

insert into public.workspaces (id, name) values ('11111111-1111-1111-1111-111111111111', 'Acme');
insert into public.workspace_threads_accounts (id, workspace_id, threads_user_id, username) values
  ('aaaaaaaa-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', '1001', 'alice');
insert into public.workspace_threads_posts (id, workspace_threads_account_id, threads_post_id, last_synced_at) values
  ('bbbbbbbb-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000001', 'p1', now());
insert into public.system_job_logs (id, job_type, trigger) values
  ('eeeeeeee-0000-0000-0000-000000000001', 'scheduled_sync', 'cron');

-- workspaces ---------------------------------------------------------------------------------
select throws_ok($$ insert into public.workspaces (name) values ('  ') $$,
  '23514', 'new row for relation "workspaces" violates check constraint "workspaces_name_not_blank"',
  'workspaces: a blank name is refused');
select throws_ok($$ delete from public.workspaces where id = '11111111-1111-1111-1111-111111111111' $$,
  '23503', null, 'workspaces: a workspace with accounts cannot be deleted (restrict; use erase_workspace)');

-- workspace_threads_accounts -------------------------------------------------------------------
select throws_ok($$ insert into public.workspace_threads_accounts (workspace_id, threads_user_id, username)
    values ('11111111-1111-1111-1111-111111111111', '1001', 'alice2') $$,
  '23505', 'duplicate key value violates unique constraint "workspace_threads_accounts_workspace_user_key"',
  'accounts: one row per (workspace, threads_user_id)');
select lives_ok($$ insert into public.workspaces (id, name) values ('22222222-2222-2222-2222-222222222222', 'Globex');
    insert into public.workspace_threads_accounts (workspace_id, threads_user_id, username)
    values ('22222222-2222-2222-2222-222222222222', '1001', 'alice') $$,
  'accounts: the same Threads user may be connected to another workspace');
select throws_ok($$ insert into public.workspace_threads_accounts (workspace_id, threads_user_id, username)
    values ('11111111-1111-1111-1111-111111111111', '10 01', 'x') $$,
  '23514', 'new row for relation "workspace_threads_accounts" violates check constraint "workspace_threads_accounts_threads_user_id_shape"',
  'accounts: threads_user_id must be an id (no spaces)');
select throws_ok($$ insert into public.workspace_threads_accounts (workspace_id, threads_user_id, username)
    values ('11111111-1111-1111-1111-111111111111', '1002', '@bob') $$,
  '23514', 'new row for relation "workspace_threads_accounts" violates check constraint "workspace_threads_accounts_username_shape"',
  'accounts: username without @ or spaces');
select throws_ok($$ insert into public.workspace_threads_accounts (workspace_id, threads_user_id, username, is_active)
    values ('11111111-1111-1111-1111-111111111111', '1002', 'bob', false) $$,
  '23514', 'new row for relation "workspace_threads_accounts" violates check constraint "workspace_threads_accounts_deactivated_iff_inactive"',
  'accounts: deactivating records deactivated_at');
select throws_ok($$ insert into public.workspace_threads_accounts (workspace_id, threads_user_id, username, deactivated_at)
    values ('11111111-1111-1111-1111-111111111111', '1002', 'bob', now()) $$,
  '23514', null, 'accounts: an active account has no deactivated_at');
select throws_ok($$ update public.workspace_threads_accounts set insights_updated_at = now(), insights_checked_at = now() - interval '1 minute'
    where username = 'alice' and workspace_id = '11111111-1111-1111-1111-111111111111' $$,
  '23514', 'new row for relation "workspace_threads_accounts" violates check constraint "workspace_threads_accounts_insights_times_ordered"',
  'accounts: insights_updated_at cannot be after insights_checked_at');
select throws_ok($$ update public.workspace_threads_accounts set insights_checked_at = now()
    where username = 'alice' and workspace_id = '11111111-1111-1111-1111-111111111111' $$,
  '23514', null, 'accounts: insights times are set together');
select throws_ok($$ insert into public.workspace_threads_accounts (workspace_id, threads_user_id, username)
    values ('99999999-9999-9999-9999-999999999999', '1', 'x') $$,
  '23503', null, 'accounts: the workspace must exist');

-- workspace_threads_tokens ---------------------------------------------------------------------
select lives_ok($$ insert into public.workspace_threads_tokens (workspace_threads_account_id, access_token_encrypted, expires_at, is_primary)
    values ('aaaaaaaa-0000-0000-0000-000000000001', 'v1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBB-_', now() + interval '60 days', true) $$,
  'tokens: a well-formed v1 token is accepted');
select throws_ok($$ insert into public.workspace_threads_tokens (workspace_threads_account_id, access_token_encrypted, expires_at)
    values ('aaaaaaaa-0000-0000-0000-000000000001', 'plain-access-token', now()) $$,
  '23514', 'new row for relation "workspace_threads_tokens" violates check constraint "workspace_threads_tokens_encrypted_shape"',
  'tokens: a plaintext token is refused');
select throws_ok($$ insert into public.workspace_threads_tokens (workspace_threads_account_id, access_token_encrypted, expires_at)
    values ('aaaaaaaa-0000-0000-0000-000000000001', 'v3.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBB', now()) $$,
  '23514', null, 'tokens: an unknown format version is refused');
select lives_ok($$ insert into public.workspace_threads_tokens (workspace_threads_account_id, access_token_encrypted, expires_at)
    values ('aaaaaaaa-0000-0000-0000-000000000001', 'v2.aaaaaaaa-0000-0000-0000-000000000001.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBB', now()) $$,
  'tokens: a well-formed v2 token (bound to an account id) is accepted');
select throws_ok($$ insert into public.workspace_threads_tokens (workspace_threads_account_id, access_token_encrypted, expires_at)
    values ('aaaaaaaa-0000-0000-0000-000000000001', 'v2.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBB', now()) $$,
  '23514', null, 'tokens: a v2 token without its account id is refused');
select throws_ok($$ insert into public.workspace_threads_tokens (workspace_threads_account_id, access_token_encrypted, expires_at)
    values ('aaaaaaaa-0000-0000-0000-000000000001', 'v2.aaaaaaaa-0000-0000-0000-000000000001.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBB', now()) $$,
  '23514', null, 'tokens: a v2 ciphertext of length 4k+1 is refused');
select throws_ok($$ insert into public.workspace_threads_tokens (workspace_threads_account_id, access_token_encrypted, expires_at)
    values ('aaaaaaaa-0000-0000-0000-000000000001', 'v1.AAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBB', now()) $$,
  '23514', null, 'tokens: an IV that is not 12 bytes (16 characters) is refused');
select throws_ok($$ insert into public.workspace_threads_tokens (workspace_threads_account_id, access_token_encrypted, expires_at)
    values ('aaaaaaaa-0000-0000-0000-000000000001', 'v1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBB==', now()) $$,
  '23514', null, 'tokens: base64 padding is refused (base64url without padding)');
select throws_ok($$ insert into public.workspace_threads_tokens (workspace_threads_account_id, access_token_encrypted, expires_at)
    values ('aaaaaaaa-0000-0000-0000-000000000001', 'v1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBB+/', now()) $$,
  '23514', null, 'tokens: standard base64 characters + and / are refused');
select throws_ok($$ insert into public.workspace_threads_tokens (workspace_threads_account_id, access_token_encrypted, expires_at)
    values ('aaaaaaaa-0000-0000-0000-000000000001', 'v1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBB', now()) $$,
  '23514', null, 'tokens: a ciphertext shorter than the 16-byte tag is refused');
select throws_ok($$ insert into public.workspace_threads_tokens (workspace_threads_account_id, access_token_encrypted, expires_at)
    values ('aaaaaaaa-0000-0000-0000-000000000001', 'v1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBB', now()) $$,
  '23514', null, 'tokens: a base64url length that cannot encode whole bytes (4k+1) is refused');
select throws_ok($$ insert into public.workspace_threads_tokens (workspace_threads_account_id, access_token_encrypted, expires_at, is_primary)
    values ('aaaaaaaa-0000-0000-0000-000000000001', 'v1.AAAAAAAAAAAAAAAA.CCCCCCCCCCCCCCCCCCCCCCCC', now() + interval '60 days', true) $$,
  '23505', 'duplicate key value violates unique constraint "workspace_threads_tokens_one_primary_idx"',
  'tokens: at most one primary, unrevoked token per account');
select lives_ok($$ insert into public.workspace_threads_tokens (workspace_threads_account_id, access_token_encrypted, expires_at, is_primary)
    values ('aaaaaaaa-0000-0000-0000-000000000001', 'v1.AAAAAAAAAAAAAAAA.DDDDDDDDDDDDDDDDDDDDDDDD', now() + interval '60 days', false) $$,
  'tokens: more non-primary tokens are allowed');
select lives_ok($$ update public.workspace_threads_tokens set revoked_at = now() where is_primary;
    insert into public.workspace_threads_tokens (workspace_threads_account_id, access_token_encrypted, expires_at, is_primary)
    values ('aaaaaaaa-0000-0000-0000-000000000001', 'v1.AAAAAAAAAAAAAAAA.EEEEEEEEEEEEEEEEEEEEEEEE', now() + interval '60 days', true) $$,
  'tokens: after revoking the primary, a new primary can be added (revoked ones do not count)');
select throws_ok($$ insert into public.workspace_threads_tokens (workspace_threads_account_id, access_token_encrypted)
    values ('aaaaaaaa-0000-0000-0000-000000000001', 'v1.AAAAAAAAAAAAAAAA.FFFFFFFFFFFFFFFFFFFFFFFF') $$,
  '23502', null, 'tokens: expires_at is required');

-- workspace_threads_posts ----------------------------------------------------------------------
select throws_ok($$ insert into public.workspace_threads_posts (workspace_threads_account_id, threads_post_id, last_synced_at)
    values ('aaaaaaaa-0000-0000-0000-000000000001', 'p1', now()) $$,
  '23505', 'duplicate key value violates unique constraint "workspace_threads_posts_account_post_key"',
  'posts: one row per (account, threads_post_id)');
select throws_ok($$ insert into public.workspace_threads_posts (workspace_threads_account_id, threads_post_id, last_synced_at)
    values ('aaaaaaaa-0000-0000-0000-000000000001', 'p 2', now()) $$,
  '23514', 'new row for relation "workspace_threads_posts" violates check constraint "workspace_threads_posts_threads_post_id_shape"',
  'posts: threads_post_id must be an id');
select throws_ok($$ insert into public.workspace_threads_posts (workspace_threads_account_id, threads_post_id, media_type, last_synced_at)
    values ('aaaaaaaa-0000-0000-0000-000000000001', 'p2', 'Text Post', now()) $$,
  '23514', 'new row for relation "workspace_threads_posts" violates check constraint "workspace_threads_posts_media_type_shape"',
  'posts: media_type has the API''s shape (upper case)');
select throws_ok($$ insert into public.workspace_threads_posts (workspace_threads_account_id, threads_post_id, permalink, last_synced_at)
    values ('aaaaaaaa-0000-0000-0000-000000000001', 'p2', 'javascript:alert(1)', now()) $$,
  '23514', 'new row for relation "workspace_threads_posts" violates check constraint "workspace_threads_posts_permalink_is_url"',
  'posts: permalink must be an http(s) URL');
select throws_ok($$ update public.workspace_threads_posts set metrics_updated_at = now(), metrics_checked_at = now() - interval '1 second' $$,
  '23514', 'new row for relation "workspace_threads_posts" violates check constraint "workspace_threads_posts_metrics_times_ordered"',
  'posts: metrics_updated_at cannot be after metrics_checked_at');
select throws_ok($$ insert into public.workspace_threads_posts (workspace_threads_account_id, threads_post_id)
    values ('aaaaaaaa-0000-0000-0000-000000000001', 'p2') $$,
  '23502', null, 'posts: last_synced_at (the stale-write guard) is required');
select throws_ok($$ delete from public.workspace_threads_accounts where id = 'aaaaaaaa-0000-0000-0000-000000000001' $$,
  '23503', null, 'posts: an account with posts cannot be deleted (restrict: deactivate it instead)');

-- workspace_threads_post_metrics (L1) and deltas (L2) -------------------------------------------
insert into public.workspace_threads_post_metrics (id, workspace_threads_post_id, captured_at, views)
  overriding system value values (1000001, 'bbbbbbbb-0000-0000-0000-000000000001', now() - interval '1 hour', 1);
insert into public.workspace_threads_post_metrics_deltas (snapshot_id, previous_snapshot_id, views) values (1000001, null, 1);
insert into public.workspace_threads_post_metrics (id, workspace_threads_post_id, captured_at, views)
  overriding system value values (1000002, 'bbbbbbbb-0000-0000-0000-000000000001', now() - interval '30 minutes', 2);
select throws_ok($$ insert into public.workspace_threads_post_metrics (workspace_threads_post_id, captured_at)
    values ('bbbbbbbb-0000-0000-0000-000000000001', now() - interval '1 hour') $$,
  '23505', 'duplicate key value violates unique constraint "workspace_threads_post_metrics_post_captured_key"',
  'L1: one snapshot per (post, captured_at)');
select throws_ok($$ insert into public.workspace_threads_post_metrics (workspace_threads_post_id, captured_at, likes)
    values ('bbbbbbbb-0000-0000-0000-000000000001', now(), -1) $$,
  '23514', 'new row for relation "workspace_threads_post_metrics" violates check constraint "workspace_threads_post_metrics_non_negative"',
  'L1: metrics are non-negative');
select throws_ok($$ insert into public.workspace_threads_post_metrics (workspace_threads_post_id) values ('bbbbbbbb-0000-0000-0000-000000000001') $$,
  '23502', null, 'L1: captured_at is required');
select throws_ok($$ insert into public.workspace_threads_post_metrics_deltas (snapshot_id, previous_snapshot_id) values (1000001, null) $$,
  '23505', 'duplicate key value violates unique constraint "workspace_threads_post_metrics_deltas_pkey"',
  'L2: one delta per snapshot');
select throws_ok($$ insert into public.workspace_threads_post_metrics_deltas (snapshot_id, previous_snapshot_id) values (1000002, 1000002) $$,
  '23514', 'new row for relation "workspace_threads_post_metrics_deltas" violates check constraint "workspace_threads_post_metrics_deltas_previous_is_older"',
  'L2: the previous snapshot is an older one');
select throws_ok($$ insert into public.workspace_threads_post_metrics_deltas (snapshot_id) values (999) $$,
  '23503', null, 'L2: a delta belongs to an existing snapshot');
insert into public.workspace_threads_post_metrics_deltas (snapshot_id, previous_snapshot_id, views) values (1000002, 1000001, 1);
insert into public.workspace_threads_post_metrics (id, workspace_threads_post_id, captured_at, views)
  overriding system value values (1000003, 'bbbbbbbb-0000-0000-0000-000000000001', now() - interval '15 minutes', 3);
select throws_ok($$ insert into public.workspace_threads_post_metrics_deltas (snapshot_id, previous_snapshot_id) values (1000003, 1000001) $$,
  '23505', 'duplicate key value violates unique constraint "workspace_threads_post_metrics_deltas_previous_snapshot_id_key"',
  'L2: a snapshot is the predecessor of at most one other (no forks in the chain)');

-- account insights L1/L2 -------------------------------------------------------------------------
insert into public.workspace_threads_account_insights (id, workspace_threads_account_id, captured_at, followers_count)
  overriding system value values (2000001, 'aaaaaaaa-0000-0000-0000-000000000001', now() - interval '1 hour', 10);
select throws_ok($$ insert into public.workspace_threads_account_insights (workspace_threads_account_id, captured_at)
    values ('aaaaaaaa-0000-0000-0000-000000000001', now() - interval '1 hour') $$,
  '23505', 'duplicate key value violates unique constraint "workspace_threads_account_insights_account_captured_key"',
  'insights L1: one snapshot per (account, captured_at)');
select throws_ok($$ insert into public.workspace_threads_account_insights (workspace_threads_account_id, captured_at, followers_count)
    values ('aaaaaaaa-0000-0000-0000-000000000001', now(), -5) $$,
  '23514', 'new row for relation "workspace_threads_account_insights" violates check constraint "workspace_threads_account_insights_non_negative"',
  'insights L1: metrics are non-negative');
select throws_ok($$ insert into public.workspace_threads_account_insights_deltas (snapshot_id, previous_snapshot_id) values (2000001, 2000001) $$,
  '23514', 'new row for relation "workspace_threads_account_insights_deltas" violates check constraint "workspace_threads_account_insights_deltas_previous_is_older"',
  'insights L2: the previous snapshot is an older one');

-- system_job_logs --------------------------------------------------------------------------------
select throws_ok($$ insert into public.system_job_logs (job_type, trigger) values ('nightly', 'cron') $$,
  '23514', 'new row for relation "system_job_logs" violates check constraint "system_job_logs_job_type_check"',
  'system_job_logs: job_type is one of the known types');
select throws_ok($$ insert into public.system_job_logs (job_type, trigger) values ('scheduled_sync', 'webhook') $$,
  '23514', 'new row for relation "system_job_logs" violates check constraint "system_job_logs_trigger_check"',
  'system_job_logs: trigger is cron, manual, continuation or resume');
select throws_ok($$ insert into public.system_job_logs (job_type, trigger, status, completed_at) values ('token_refresh', 'cron', 'done', now()) $$,
  '23514', 'new row for relation "system_job_logs" violates check constraint "system_job_logs_status_check"',
  'system_job_logs: status is one of the five');
select throws_ok($$ insert into public.system_job_logs (job_type, trigger, status, started_at, completed_at, metadata)
    values ('token_refresh', 'cron', 'completed', now(), now() - interval '1 second', '{}') $$,
  '23514', 'new row for relation "system_job_logs" violates check constraint "system_job_logs_completed_after_start"',
  'system_job_logs: completed_at >= started_at');
select throws_ok($$ insert into public.system_job_logs (job_type, trigger, status, completed_at) values ('token_refresh', 'cron', 'running', now()) $$,
  '23514', 'new row for relation "system_job_logs" violates check constraint "system_job_logs_running_iff_not_completed"',
  'system_job_logs: a running run has no completed_at');
select throws_ok($$ insert into public.system_job_logs (job_type, trigger, status) values ('token_refresh', 'cron', 'completed') $$,
  '23514', 'new row for relation "system_job_logs" violates check constraint "system_job_logs_running_iff_not_completed"',
  'system_job_logs: a finished run has a completed_at');
select throws_ok($$ insert into public.system_job_logs (job_type, trigger, status, completed_at, error_message)
    values ('token_refresh', 'cron', 'failed', now(), ' ') $$,
  '23514', 'new row for relation "system_job_logs" violates check constraint "system_job_logs_failed_has_message"',
  'system_job_logs: a failed run says why');
select throws_ok($$ insert into public.system_job_logs (job_type, trigger, invocations) values ('token_refresh', 'cron', 0) $$,
  '23514', 'new row for relation "system_job_logs" violates check constraint "system_job_logs_invocations_positive"',
  'system_job_logs: invocations >= 1');
select throws_ok($$ insert into public.system_job_logs (job_type, trigger, metadata) values ('token_refresh', 'cron', '[]') $$,
  '23514', 'new row for relation "system_job_logs" violates check constraint "system_job_logs_metadata_is_object"',
  'system_job_logs: metadata is an object');
select throws_ok($$ update public.system_job_logs set status = 'completed', completed_at = now(), metadata = '{"total_accounts": 3}'
    where id = 'eeeeeeee-0000-0000-0000-000000000001' $$,
  '23514', 'new row for relation "system_job_logs" violates check constraint "system_job_logs_finished_sync_has_counts"',
  'system_job_logs: a finished sync run carries total_accounts, success_count, error_count, skipped_count');

-- sync_logs ----------------------------------------------------------------------------------------
select throws_ok($$ insert into public.sync_logs (run_id, workspace_threads_account_id, job_type, status, started_at)
    values ('eeeeeeee-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000001', 'sync_everything', 'completed', now()) $$,
  '23514', 'new row for relation "sync_logs" violates check constraint "sync_logs_job_type_check"',
  'sync_logs: job_type is a known step');
select throws_ok($$ insert into public.sync_logs (run_id, workspace_threads_account_id, job_type, status, started_at)
    values ('eeeeeeee-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000001', 'sync_posts', 'running', now()) $$,
  '23514', 'new row for relation "sync_logs" violates check constraint "sync_logs_status_check"',
  'sync_logs: status is completed, partial, failed or skipped');
select throws_ok($$ insert into public.sync_logs (run_id, workspace_threads_account_id, job_type, status, started_at)
    values ('eeeeeeee-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000001', 'sync_posts', 'failed', now()) $$,
  '23514', 'new row for relation "sync_logs" violates check constraint "sync_logs_unsuccessful_has_error"',
  'sync_logs: a failed step has an error code and message');
select throws_ok($$ insert into public.sync_logs (run_id, workspace_threads_account_id, job_type, status, started_at, error_code)
    values ('eeeeeeee-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000001', 'sync_metrics', 'skipped', now(), 'auth_expired') $$,
  '23514', null, 'sync_logs: a skipped step has a message too');
select throws_ok($$ insert into public.sync_logs (run_id, workspace_threads_account_id, job_type, status, started_at, error_code, error_message)
    values ('eeeeeeee-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000001', 'sync_metrics', 'partial', now(), '', 'x') $$,
  '23514', null, 'sync_logs: a partial step has a non-empty error code');
select throws_ok($$ insert into public.sync_logs (run_id, workspace_threads_account_id, job_type, status, started_at, completed_at)
    values ('eeeeeeee-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000001', 'sync_posts', 'completed', now(), now() - interval '1 second') $$,
  '23514', 'new row for relation "sync_logs" violates check constraint "sync_logs_completed_after_start"',
  'sync_logs: completed_at >= started_at');
select throws_ok($$ insert into public.sync_logs (run_id, workspace_threads_account_id, job_type, status, started_at, attempt)
    values ('eeeeeeee-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000001', 'sync_posts', 'completed', now(), 0) $$,
  '23514', 'new row for relation "sync_logs" violates check constraint "sync_logs_attempt_positive"',
  'sync_logs: attempt >= 1');
select throws_ok($$ insert into public.sync_logs (run_id, workspace_threads_account_id, job_type, status, started_at, items_processed)
    values ('eeeeeeee-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000001', 'sync_posts', 'completed', now(), -1) $$,
  '23514', 'new row for relation "sync_logs" violates check constraint "sync_logs_items_non_negative"',
  'sync_logs: items_processed >= 0');
select throws_ok($$ insert into public.sync_logs (workspace_threads_account_id, job_type, status, started_at)
    values ('aaaaaaaa-0000-0000-0000-000000000001', 'sync_posts', 'completed', now()) $$,
  '23502', null, 'sync_logs: every step belongs to a run');

-- system_job_locks -----------------------------------------------------------------------------------
select throws_ok($$ insert into public.system_job_locks (job_name, locked_by, locked_at, expires_at, heartbeat_at)
    values ('x', '', now(), now(), now()) $$,
  '23514', 'new row for relation "system_job_locks" violates check constraint "system_job_locks_locked_by_not_blank"',
  'system_job_locks: the holder is named');
select throws_ok($$ insert into public.system_job_locks (job_name, locked_by, locked_at, expires_at, heartbeat_at)
    values ('', 'w', now(), now(), now()) $$,
  '23514', 'new row for relation "system_job_locks" violates check constraint "system_job_locks_job_name_shape"',
  'system_job_locks: the job is named');

-- sync_run_accounts and account_sync_leases ------------------------------------------------------------
insert into public.sync_run_accounts (run_id, workspace_threads_account_id, position, next_attempt_at, enqueued_at)
  values ('eeeeeeee-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000001', 1, now(), now());
select throws_ok($$ insert into public.sync_run_accounts (run_id, workspace_threads_account_id, position, next_attempt_at, enqueued_at)
    values ('eeeeeeee-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000001', 2, now(), now()) $$,
  '23505', 'duplicate key value violates unique constraint "sync_run_accounts_pkey"',
  'sync_run_accounts: an account appears once per run');
select throws_ok($$ update public.sync_run_accounts set status = 'waiting' $$,
  '23514', 'new row for relation "sync_run_accounts" violates check constraint "sync_run_accounts_status_check"',
  'sync_run_accounts: status is one of the six');
select throws_ok($$ update public.sync_run_accounts set status = 'in_progress' $$,
  '23514', 'new row for relation "sync_run_accounts" violates check constraint "sync_run_accounts_in_progress_is_leased"',
  'sync_run_accounts: an in_progress row has a worker and a lease');
select throws_ok($$ update public.sync_run_accounts set status = 'completed' $$,
  '23514', 'new row for relation "sync_run_accounts" violates check constraint "sync_run_accounts_finished_iff_final"',
  'sync_run_accounts: a finished row has finished_at');
select throws_ok($$ update public.sync_run_accounts set finished_at = now() $$,
  '23514', null, 'sync_run_accounts: a pending row has no finished_at');
select throws_ok($$ update public.sync_run_accounts set status = 'failed', finished_at = now() $$,
  '23514', 'new row for relation "sync_run_accounts" violates check constraint "sync_run_accounts_unsuccessful_has_error"',
  'sync_run_accounts: a failed account has an error code and message');
select throws_ok($$ update public.sync_run_accounts set attempts = -1 $$,
  '23514', 'new row for relation "sync_run_accounts" violates check constraint "sync_run_accounts_attempts_non_negative"',
  'sync_run_accounts: attempts >= 0');
insert into public.account_sync_leases (workspace_threads_account_id, holder, run_id, acquired_at, expires_at)
  values ('aaaaaaaa-0000-0000-0000-000000000001', 'w', 'eeeeeeee-0000-0000-0000-000000000001', now(), now());
select throws_ok($$ insert into public.account_sync_leases (workspace_threads_account_id, holder, run_id, acquired_at, expires_at)
    values ('aaaaaaaa-0000-0000-0000-000000000001', 'w2', 'eeeeeeee-0000-0000-0000-000000000001', now(), now()) $$,
  '23505', 'duplicate key value violates unique constraint "account_sync_leases_pkey"',
  'account_sync_leases: one lease per account');
select throws_ok($$ update public.account_sync_leases set holder = ' ' $$,
  '23514', 'new row for relation "account_sync_leases" violates check constraint "account_sync_leases_holder_not_blank"',
  'account_sync_leases: the holder is named');

-- Cascades on purpose: a run's step logs and progress go with it (retention). -----------------------------
insert into public.sync_logs (run_id, workspace_threads_account_id, job_type, status, started_at)
  values ('eeeeeeee-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000001', 'sync_posts', 'completed', now());
delete from public.system_job_logs where id = 'eeeeeeee-0000-0000-0000-000000000001';
select results_eq(
  $$ select (select count(*) from public.sync_logs), (select count(*) from public.sync_run_accounts), (select count(*) from public.account_sync_leases) $$,
  $$ values (0::bigint, 0::bigint, 0::bigint) $$,
  'deleting a run deletes its sync_logs, sync_run_accounts and leases');

select * from finish();
rollback;

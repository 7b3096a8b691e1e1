-- Domain, part 1: workspaces, their connected Threads accounts, and the accounts' tokens.
--
-- Deletion policy (the reason for every `on delete` below):
--   * Accounts are deactivated (`is_active = false`), never deleted: their posts, snapshots and
--     logs are history that must survive a disconnect. Every table holding history references
--     the account with `on delete restrict`, so a stray `delete` fails loudly (SQLSTATE 23503)
--     instead of silently dropping a year of metrics.
--   * A workspace cannot be deleted while it has accounts (`restrict`), for the same reason.
--     Removing a customer's data on purpose is `public.erase_workspace()` (a later migration),
--     the one documented path that may delete immutable snapshots.
--   * Tokens are credentials, not history: they go with their account (`cascade`), which only
--     matters for an account that never synced (one with history cannot be deleted).

create table public.workspaces (
  id uuid primary key default gen_random_uuid(),
  name text not null,
  created_at timestamptz not null default now(),
  constraint workspaces_name_not_blank check (btrim(name) <> '')
);

comment on table public.workspaces is
  'A customer workspace; owns Threads accounts. Delete only through public.erase_workspace() (accounts restrict deletion).';

create table public.workspace_threads_accounts (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete restrict,
  -- The Threads user id as the API returns it (a numeric string today; kept as text because
  -- Graph ids are opaque strings and exceed bigint in other Meta APIs).
  threads_user_id text not null,
  username text not null,
  is_active boolean not null default true,
  deactivated_at timestamptz,
  -- L3 of account insights: the values of the latest snapshot in
  -- workspace_threads_account_insights, written by public.record_account_insights() only.
  -- NULL means the API did not report the metric, never 0.
  current_followers_count bigint,
  current_views bigint,
  current_likes bigint,
  current_replies bigint,
  current_reposts bigint,
  current_quotes bigint,
  current_clicks bigint,
  -- captured_at of the latest snapshot (the last time a value changed) ...
  insights_updated_at timestamptz,
  -- ... and of the latest capture, changed or not ("last checked").
  insights_checked_at timestamptz,
  -- The last time a sync of this account finished with every step completed
  -- (set by public.finish_run_account); a partial or failed sync never moves it.
  last_synced_at timestamptz,
  created_at timestamptz not null default now(),
  constraint workspace_threads_accounts_workspace_user_key unique (workspace_id, threads_user_id),
  constraint workspace_threads_accounts_threads_user_id_shape
    check (threads_user_id ~ '^[A-Za-z0-9_:-]{1,64}$'),
  constraint workspace_threads_accounts_username_shape
    check (username ~ '^[^\s@]{1,64}$'),
  -- Deactivation is recorded with its time, and only then.
  constraint workspace_threads_accounts_deactivated_iff_inactive
    check (is_active = (deactivated_at is null)),
  -- Both set by the first capture (which always writes a snapshot), and a change is never
  -- later than the last check. (Both NULL: the comparison is NULL, which a check accepts.)
  constraint workspace_threads_accounts_insights_times_ordered
    check ((insights_updated_at is null) = (insights_checked_at is null)
      and insights_updated_at <= insights_checked_at)
);

comment on table public.workspace_threads_accounts is
  'A Threads account connected to a workspace. Deactivate (is_active = false), never delete: history references it. current_* are L3 of account insights.';
comment on column public.workspace_threads_accounts.last_synced_at is
  'Last sync that completed every step (set by finish_run_account with status completed); partial and failed syncs never move it.';
comment on column public.workspace_threads_accounts.insights_checked_at is
  'captured_at of the latest insights capture, including captures that changed nothing (no snapshot written).';

-- The sync's eligibility query walks active accounts in least-recently-synced order.
create index workspace_threads_accounts_active_idx
  on public.workspace_threads_accounts (last_synced_at nulls first, id)
  where is_active;

create table public.workspace_threads_tokens (
  id uuid primary key default gen_random_uuid(),
  workspace_threads_account_id uuid not null
    references public.workspace_threads_accounts (id) on delete cascade,
  -- AES-256-GCM, `v1.<iv>.<ciphertext>`: a 12-byte IV (16 base64url characters) and at least
  -- the 16-byte tag (22 characters), base64url without padding (DESIGN section 6).
  access_token_encrypted text not null,
  expires_at timestamptz not null,
  is_primary boolean not null default false,
  revoked_at timestamptz,
  created_at timestamptz not null default now(),
  constraint workspace_threads_tokens_encrypted_shape
    check (access_token_encrypted ~ '^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22,}$'
      -- a base64url text of length 4k+1 cannot encode whole bytes
      and length(split_part(access_token_encrypted, '.', 3)) % 4 <> 1)
);

comment on table public.workspace_threads_tokens is
  'Encrypted access tokens (v1.<iv>.<ciphertext>). At most one primary, unrevoked token per account; to replace it, revoke the old one first in the same transaction.';

-- At most one primary, unrevoked token per account; also the lookup index of the sync's
-- eligibility query (INCLUDE makes the expiry test index-only).
create unique index workspace_threads_tokens_one_primary_idx
  on public.workspace_threads_tokens (workspace_threads_account_id) include (expires_at)
  where is_primary and revoked_at is null;

-- Covers the foreign key (token history of an account, cascade on delete).
create index workspace_threads_tokens_account_idx
  on public.workspace_threads_tokens (workspace_threads_account_id, created_at desc);

-- Row Level Security with no policy: the API roles see nothing; the sync connects as
-- `postgres`. Supabase's default privileges grant the API roles everything on new tables,
-- so take that back explicitly as well.
alter table public.workspaces enable row level security;
alter table public.workspace_threads_accounts enable row level security;
alter table public.workspace_threads_tokens enable row level security;
revoke all on table public.workspaces, public.workspace_threads_accounts,
  public.workspace_threads_tokens from anon, authenticated;

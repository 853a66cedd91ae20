"""Workflows on pies: opening accounts, saving a whole pie tree, export and import.

A save takes the whole tree in the shape of the API's ``PUT .../pie/`` (api.md) and matches
incoming slices to existing ones by id, then symbol within the same pie, then sub-pie name, so
holdings stay attached: moving a slice or renaming a sub-pie trades nothing. Validation errors
are keyed by the JSON path of the offending field ("slices.1.pie.slices.0.symbol"), so the
API returns them as field errors and the editor shows them next to the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import transaction

if TYPE_CHECKING:
    from django.contrib.auth.models import User

from pies.donut import PALETTE_SIZE
from pies.models import MAX_DEPTH, MAX_SECURITY_SLICES_PER_ACCOUNT, Pie, Slice, SliceStatus
from trading.models import (
    USER_ACCOUNT_KINDS,
    Account,
    AccountKind,
    Intent,
    IntentKind,
    IntentStatus,
    Position,
    Security,
)
from trading.money import parse_target_bp
from trading.ownership import ensure_no_window

PIE_FORMAT = "pies/1"
MAX_NAME_LENGTH = 100
MAX_ACCOUNTS_PER_USER = len(USER_ACCOUNT_KINDS)


class AccountLimitError(ValueError):
    pass


class PieValidationError(ValueError):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


class StalePieVersion(Exception):
    def __init__(self, current_version: int) -> None:
        super().__init__(
            "This pie was changed elsewhere since you loaded it "
            f"(now version {current_version}). Reload it and apply your change again."
        )
        self.current_version = current_version


@transaction.atomic
def open_account(*, user: User, kind: str = AccountKind.INDIVIDUAL, name: str = "") -> Account:
    """Open an account of ``kind`` with an empty portfolio pie (money stays cash until a save)."""
    if kind not in USER_ACCOUNT_KINDS:
        raise AccountLimitError(f"Unknown account kind {kind!r}.")
    if len(name) > MAX_NAME_LENGTH:
        raise AccountLimitError(f"Use at most {MAX_NAME_LENGTH} characters for the name.")
    if Account.objects.filter(owner=user, kind=kind).exists():
        raise AccountLimitError(f"You already have a {AccountKind(kind).label} account.")
    account = Account.objects.create(owner=user, kind=kind, name=name)
    Pie.objects.create(account=account, name="Portfolio", is_root=True)
    return account


# --- Parsing and validation: from untrusted JSON to a checked plan ---------------------------


@dataclass
class WantedSlice:
    """One incoming slice after validation: a security or a sub-pie, with its target."""

    path: str  # the JSON path of the slice, for error keys
    target_bp: int
    id: int | None = None
    security: Security | None = None
    pie_id: int | None = None  # the sub-pie's id, when given
    pie_name: str = ""
    children: list[WantedSlice] = field(default_factory=list)

    @property
    def is_pie(self) -> bool:
        return self.security is None


def parse_target(raw: Any) -> int:
    """A target percentage ("33.33", or a JSON number of that form) as basis points; a
    ``ValueError`` (``trading.money.NumberError``) says what is wrong."""
    return parse_target_bp(raw)


def format_bp(bp: int) -> str:
    return f"{bp // 100}.{bp % 100:02d}"


REMOVING_IN_THE_WAY = (
    "{symbol} is still being sold from this pie (it is removing until the next window). "
    "Add it back here instead, or move this slice after the window."
)
SWAP_IN_THE_WAY = (
    "{symbol} is already in this pie and moves out in this same save: move one of them, "
    "save, then move the other."
)


class _Validator:
    def __init__(self, account: Account, live_slices: dict[int, Slice]) -> None:
        self.account = account
        self.live_slices = live_slices
        self.errors: dict[str, list[str]] = {}
        self.security_count = 0
        self.symbols: dict[str, Security] = {}
        self.seen_ids: set[int] = set()

    def error(self, key: str, message: str) -> None:
        self.errors.setdefault(key, []).append(message)

    def load_symbols(self, tree: Any) -> None:
        """Fetch every security the tree names in one query."""
        wanted: set[str] = set()

        def collect(node: Any) -> None:
            if not isinstance(node, dict) or not isinstance(node.get("slices"), list):
                return
            for item in node["slices"]:
                if isinstance(item, dict):
                    if isinstance(item.get("symbol"), str):
                        wanted.add(item["symbol"].strip().upper())
                    collect(item.get("pie"))

        collect(tree)
        self.symbols = {s.symbol: s for s in Security.objects.filter(symbol__in=wanted)}

    def pie(self, node: Any, prefix: str, depth: int) -> list[WantedSlice]:
        if not isinstance(node, dict):
            self.error(prefix.rstrip(".") or "non_field_errors", "Expected a pie object.")
            return []
        raw_slices = node.get("slices", [])
        if not isinstance(raw_slices, list):
            self.error(f"{prefix}slices", "Expected a list of slices.")
            return []
        if depth > MAX_DEPTH:
            self.error(f"{prefix}slices", TOO_DEEP)
            return []
        wanted: list[WantedSlice] = []
        seen_symbols: dict[str, WantedSlice] = {}
        seen_names: set[str] = set()
        for index, item in enumerate(raw_slices):
            key = f"{prefix}slices.{index}"
            parsed = self.slice(item, key, depth)
            if parsed is None:
                continue
            if parsed.security is not None:
                first = seen_symbols.get(parsed.security.symbol)
                if first is not None:
                    self.duplicate(first, parsed)
                seen_symbols.setdefault(parsed.security.symbol, parsed)
            else:
                if parsed.pie_name.lower() in seen_names:
                    self.error(
                        f"{key}.pie.name",
                        f"A sub-pie named {parsed.pie_name!r} already exists here.",
                    )
                seen_names.add(parsed.pie_name.lower())
            wanted.append(parsed)
        active_total = sum(w.target_bp for w in wanted)
        if depth > 1 and active_total == 0:
            self.error(f"{prefix}slices", "A sub-pie needs at least one slice with a target.")
        elif wanted and active_total != 10000:
            self.error(
                f"{prefix}slices",
                f"Targets add up to {format_bp(active_total)}%; they must add up to exactly 100%.",
            )
        return wanted

    def duplicate(self, first: WantedSlice, again: WantedSlice) -> None:
        """One security twice in a pie. When one of them is a slice still removing (sold at
        the next window) and the other comes in, say so: adding it back is the way."""
        assert first.security is not None
        symbol = first.security.symbol
        for staying, coming in ((first, again), (again, first)):
            existing = self.live_slices.get(staying.id) if staying.id else None
            if existing is not None and existing.status == SliceStatus.REMOVING:
                self.error(f"{coming.path}.symbol", REMOVING_IN_THE_WAY.format(symbol=symbol))
                return
        self.error(f"{again.path}.symbol", f"{symbol} is already in this pie.")

    def name(self, raw: Any, key: str) -> str:
        if not isinstance(raw, str) or not raw.strip():
            self.error(key, "Enter a name.")
            return ""
        name = raw.strip()
        if "/" in name:
            self.error(key, "A name cannot contain '/'.")
        if len(name) > MAX_NAME_LENGTH:
            self.error(key, f"Use at most {MAX_NAME_LENGTH} characters.")
        return name

    def slice(self, item: Any, key: str, depth: int) -> WantedSlice | None:
        if not isinstance(item, dict):
            self.error(key, "Expected a slice object.")
            return None
        try:
            target_bp = parse_target(item.get("target_percent"))
        except ValueError as exc:
            self.error(f"{key}.target_percent", str(exc))
            target_bp = 0
        slice_id = item.get("id")
        if slice_id is not None:
            existing = self.live_slices.get(slice_id) if isinstance(slice_id, int) else None
            if existing is None or isinstance(slice_id, bool):
                # Someone else's slice reads exactly like one that does not exist.
                self.error(f"{key}.id", f"No slice with id {slice_id!r} in this account.")
                slice_id = None
            elif slice_id in self.seen_ids:
                self.error(f"{key}.id", f"Slice {slice_id} appears twice.")
            else:
                self.seen_ids.add(slice_id)
        has_symbol, has_pie = item.get("symbol") is not None, item.get("pie") is not None
        if has_symbol == has_pie:
            self.error(key, "A slice has either a symbol or a sub-pie.")
            return None
        wanted = WantedSlice(path=key, target_bp=target_bp, id=slice_id)
        if has_symbol:
            symbol = item["symbol"].strip().upper() if isinstance(item["symbol"], str) else ""
            security = self.symbols.get(symbol)
            existing = self.live_slices.get(slice_id) if slice_id else None
            if security is None:
                self.error(f"{key}.symbol", f"Unknown symbol {item['symbol']!r}.")
                return None
            if not security.active and (existing is None or existing.security_id != security.pk):
                self.error(f"{key}.symbol", f"{symbol} is not available for new slices.")
            if existing is not None and existing.security_id != security.pk:
                self.error(f"{key}.symbol", "A slice keeps its security; add a new slice instead.")
            self.security_count += 1
            if self.security_count == MAX_SECURITY_SLICES_PER_ACCOUNT + 1:
                self.error(
                    f"{key}.symbol",
                    f"An account holds at most {MAX_SECURITY_SLICES_PER_ACCOUNT} securities.",
                )
            wanted.security = security
            return wanted
        sub = item["pie"]
        if not isinstance(sub, dict):
            self.error(f"{key}.pie", "Expected a pie object.")
            return None
        if slice_id is not None and self.live_slices[slice_id].child_pie_id is None:
            self.error(f"{key}.id", "This slice is a security, not a sub-pie.")
        wanted.pie_name = self.name(sub.get("name"), f"{key}.pie.name")
        pie_id = sub.get("id")
        if pie_id is not None:
            if (
                not isinstance(pie_id, int)
                or isinstance(pie_id, bool)
                or pie_id not in {s.child_pie_id for s in self.live_slices.values()}
            ):
                self.error(f"{key}.pie.id", f"No sub-pie with id {pie_id!r} in this account.")
            else:
                wanted.pie_id = pie_id
        wanted.children = self.pie(sub, f"{key}.pie.", depth + 1)
        return wanted


def _live_slices(account: Account) -> dict[int, Slice]:
    return {
        s.pk: s
        for s in Slice.objects.filter(pie__account=account)
        .exclude(status=SliceStatus.REMOVED)
        .select_related("child_pie")
    }


def validate_pie_tree(*, account: Account, tree: Any) -> dict[str, list[str]]:
    """Check a tree without saving it (the editor's as-you-type validation)."""
    return _validate(account, tree, _live_slices(account))[0]


def _validate(
    account: Account, tree: Any, live: dict[int, Slice]
) -> tuple[dict[str, list[str]], str, list[WantedSlice]]:
    validator = _Validator(account, live)
    if not isinstance(tree, dict):
        return {"non_field_errors": ["Expected a pie object."]}, "", []
    too_deep = _too_deep(tree)
    if too_deep is not None:
        # Checked before anything walks the tree: a tree 200 levels deep is refused, not
        # recursed into.
        return {too_deep: [TOO_DEEP]}, "", []
    validator.load_symbols(tree)
    name = validator.name(tree.get("name", "Portfolio"), "name")
    wanted = validator.pie(tree, "", 1)
    if not wanted and not validator.errors:
        validator.error("slices", "A pie needs at least one slice.")
    return validator.errors, name, wanted


TOO_DEEP = f"Pies nest at most {MAX_DEPTH} levels deep."


def _too_deep(tree: Any) -> str | None:
    """The key ("slices.1.pie.slices") of the first pie nested past ``MAX_DEPTH`` levels (the
    portfolio pie is level 1), found iteratively; None when the tree is within the limit."""
    stack: list[tuple[Any, str, int]] = [(tree, "", 1)]
    while stack:
        node, prefix, depth = stack.pop()
        if not isinstance(node, dict) or not isinstance(node.get("slices"), list):
            continue
        if depth > MAX_DEPTH:
            return f"{prefix}slices"
        for index, item in enumerate(node["slices"]):
            if isinstance(item, dict):
                stack.append((item.get("pie"), f"{prefix}slices.{index}.pie.", depth + 1))
    return None


# --- Applying a validated tree --------------------------------------------------------------


def _ids_in(wanted: list[WantedSlice]) -> set[int]:
    found: set[int] = set()
    for item in wanted:
        if item.id is not None:
            found.add(item.id)
        found |= _ids_in(item.children)
    return found


class _Applier:
    def __init__(
        self, account: Account, live: dict[int, Slice], incoming: set[int] | None = None
    ) -> None:
        self.account = account
        self.live = live
        self.incoming = incoming or set()  # slice ids the new tree names (they stay live)
        self.errors: dict[str, list[str]] = {}
        self.used: set[int] = set()
        self.created: list[Slice] = []
        self.quantities = dict(
            Position.objects.filter(slice_id__in=list(live)).values_list("slice_id", "quantity")
        )
        self.by_pie: dict[int, list[Slice]] = {}
        for s in live.values():
            self.by_pie.setdefault(s.pie_id, []).append(s)

    def match(self, pie_id: int | None, wanted: WantedSlice) -> Slice | None:
        if wanted.id is not None:
            return self.live[wanted.id]
        candidates = (
            [s for s in self.by_pie.get(pie_id, []) if s.pk not in self.used] if pie_id else []
        )
        if wanted.security is not None:
            return next((s for s in candidates if s.security_id == wanted.security.pk), None)
        if wanted.pie_id is not None:
            return next((s for s in self.live.values() if s.child_pie_id == wanted.pie_id), None)
        return next(
            (
                s
                for s in candidates
                # A null child_pie reads as None without a query.
                if s.child_pie is not None and s.child_pie.name.lower() == wanted.pie_name.lower()
            ),
            None,
        )

    def apply(self, pie: Pie, wanted: list[WantedSlice]) -> None:
        for order, item in enumerate(wanted):
            existing = self.match(pie.pk, item)
            if existing is not None and existing.pk in self.used:
                existing = None
            if existing is None:
                self.create(pie, item, order)
                continue
            self.used.add(existing.pk)
            moved = existing.pie_id != pie.pk and existing.security_id is not None
            if moved and not self.make_room(pie, existing, item):
                continue
            existing.pie = pie
            existing.order = order
            child = existing.child_pie  # None, without a query, for a security slice
            if child is not None:
                if child.name != item.pie_name:
                    child.name = item.pie_name
                    child.save(update_fields=["name"])
                self.apply(child, item.children)
            self.set_target(existing, item.target_bp)

    def make_room(self, pie: Pie, moving: Slice, item: WantedSlice) -> bool:
        """A slice moved by id into ``pie``: is its security still in ``pie`` (a security is
        once per pie among slices not removed)? An unheld slice the new tree leaves out is
        dropped now, before the move; one that stays (removing, or held and left out, so
        removing after this save) or moves out in this save refuses the move, with a message.
        """
        other = next(
            (
                s
                for s in self.by_pie.get(pie.pk, [])
                if s.security_id == moving.security_id and s.pk != moving.pk and s.pie_id == pie.pk
            ),
            None,
        )
        if other is None:
            return True
        symbol = item.security.symbol if item.security else str(moving.security_id)
        if other.pk in self.incoming and other.status != SliceStatus.REMOVING:
            message = SWAP_IN_THE_WAY
        elif other.status == SliceStatus.REMOVING or self.holds_shares(other):
            message = REMOVING_IN_THE_WAY
        else:
            self.used.add(other.pk)
            self.retire(other)  # unheld and left out: removed, out of the way
            return True
        self.errors.setdefault(f"{item.path}.symbol", []).append(message.format(symbol=symbol))
        return False

    def colour_new_slices(self) -> None:
        """Give each slice this save created the first palette colour its pie's other slices
        (after the save: moves in, removals out) do not have, or the least used one."""
        everyone = [*self.live.values(), *self.created]
        coloured: set[int] = set()
        for new in self.created:
            taken = [
                s.colour
                for s in everyone
                if s.pie_id == new.pie_id
                and s.pk != new.pk
                and s.status != SliceStatus.REMOVED
                and (s.pk in self.live or s.pk in coloured)
            ]
            new.colour = min(range(PALETTE_SIZE), key=lambda i: (taken.count(i), i))
            coloured.add(new.pk)
            if new.colour:
                Slice.objects.filter(pk=new.pk).update(colour=new.colour)

    def create(self, pie: Pie, item: WantedSlice, order: int) -> None:
        if item.target_bp == 0:
            return  # a new slice sent with target 0 is simply not added
        if item.security is not None:
            new = Slice.objects.create(
                pie=pie, security=item.security, target_bp=item.target_bp, order=order
            )
            Position.objects.create(account=self.account, security=item.security, slice=new)
        else:
            child = Pie.objects.create(account=self.account, name=item.pie_name)
            new = Slice.objects.create(
                pie=pie, child_pie=child, target_bp=item.target_bp, order=order
            )
        self.created.append(new)
        if new.child_pie is not None:
            self.apply(new.child_pie, item.children)

    def holds_shares(self, slice_: Slice) -> bool:
        if slice_.child_pie_id is None:
            return self.quantities.get(slice_.pk, 0) > 0
        return any(self.holds_shares(s) for s in self.by_pie.get(slice_.child_pie_id, []))

    def set_target(self, slice_: Slice, target_bp: int) -> None:
        if target_bp > 0:
            was_removing = slice_.status == SliceStatus.REMOVING
            slice_.status, slice_.target_bp = SliceStatus.ACTIVE, target_bp
            slice_.save(update_fields=["pie", "order", "status", "target_bp"])
            if was_removing:
                # Only a removal no window took: a save is refused while a window owns the
                # account, and the filter says so again where the rows are written.
                Intent.objects.filter(
                    slice=slice_,
                    kind=IntentKind.REMOVAL,
                    status=IntentStatus.PENDING,
                    window__isnull=True,
                ).update(status=IntentStatus.CANCELLED)
            return
        self.retire(slice_)

    def retire(self, slice_: Slice) -> None:
        """Target 0 or gone: sell it at the next window if it holds shares, else drop it."""
        if self.holds_shares(slice_):
            if slice_.status != SliceStatus.REMOVING:
                slice_.status, slice_.target_bp = SliceStatus.REMOVING, 0
                slice_.save(update_fields=["pie", "order", "status", "target_bp"])
                Intent.objects.create(account=self.account, kind=IntentKind.REMOVAL, slice=slice_)
            else:
                slice_.save(update_fields=["pie", "order"])
            return
        # Nothing to sell: hide it (history such as past orders and lots stays queryable).
        slice_.status, slice_.target_bp = SliceStatus.REMOVED, 0
        slice_.save(update_fields=["pie", "order", "status", "target_bp"])
        unbound = Intent.objects.filter(status=IntentStatus.PENDING, window__isnull=True)
        unbound.filter(slice=slice_).update(status=IntentStatus.CANCELLED)
        if slice_.child_pie_id is not None:
            unbound.filter(pie_id=slice_.child_pie_id).update(status=IntentStatus.CANCELLED)
        for child in self.by_pie.get(slice_.child_pie_id or 0, []):
            if child.pk not in self.used:
                self.used.add(child.pk)
                self.retire(child)

    def retire_unmatched(self, root: Pie) -> None:
        """Slices the new tree no longer names: sold at the next window, or dropped.

        Only slices whose parent pie is still in the tree are looked at; the contents of a
        vanished sub-pie go with it (sold in full when it holds shares).
        """
        in_tree = {root.pk} | {
            s.child_pie_id for s in self.live.values() if s.pk in self.used and s.child_pie_id
        }
        for slice_ in list(self.live.values()):
            if slice_.pk in self.used or slice_.pie_id not in in_tree:
                continue
            self.used.add(slice_.pk)
            if slice_.status != SliceStatus.REMOVING:  # a removing one still waits to be sold
                self.retire(slice_)


@transaction.atomic
def save_pie_tree(*, account: Account, tree: Any, version: Any) -> Pie:
    """Replace the account's pie tree (api.md PUT): validate, match, apply, bump the version.

    Raises StalePieVersion when ``version`` is not the current one (nothing is changed),
    PieValidationError with field errors keyed by JSON path, and AccountInWindow while a trade
    window owns the account (from its freeze until it is done: it plans from this tree).
    """
    ensure_no_window(account.pk)
    root = Pie.objects.select_for_update().get(account=account, is_root=True)
    if isinstance(version, bool) or not isinstance(version, int):
        raise PieValidationError({"version": ["Send the version of the pie you edited."]})
    if version != root.version:
        raise StalePieVersion(root.version)
    live = _live_slices(account)
    errors, name, wanted = _validate(account, tree, live)
    if errors:
        raise PieValidationError(errors)
    applier = _Applier(account, live, _ids_in(wanted))
    applier.apply(root, wanted)
    if applier.errors:
        raise PieValidationError(applier.errors)  # rolls back what was applied
    applier.retire_unmatched(root)
    applier.colour_new_slices()
    root.name = name or root.name
    root.version += 1
    root.save(update_fields=["name", "version"])
    return root


# --- The open pie format (api.md) -----------------------------------------------------------


def export_pie(*, account: Account) -> dict[str, Any]:
    """The portfolio in the open pie format: names, symbols, targets, sub-pies; no amounts."""
    from pies.tree import PieView, load_portfolio

    def dump(view: PieView) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for s in view.slices:
            if s.is_removing:
                continue
            if s.child is not None:
                out.append(
                    {
                        "target_percent": format_bp(s.target_bp),
                        "pie": {"name": s.child.name, "slices": dump(s.child)},
                    }
                )
            else:
                out.append({"target_percent": format_bp(s.target_bp), "symbol": s.symbol})
        return out

    portfolio = load_portfolio(account)
    return {"format": PIE_FORMAT, "name": portfolio.root.name, "slices": dump(portfolio.root)}


def import_pie(*, account: Account, data: Any, version: Any) -> Pie:
    """Import the open pie format: a save of the whole tree with the same rules."""
    if not isinstance(data, dict) or data.get("format") != PIE_FORMAT:
        raise PieValidationError({"format": [f'Expected "format": "{PIE_FORMAT}".']})
    too_deep = _too_deep(data)
    if too_deep is not None:  # before strip_ids walks it
        raise PieValidationError({too_deep: [TOO_DEEP]})

    def strip_ids(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip_ids(v) for k, v in node.items() if k != "id"}
        if isinstance(node, list):
            return [strip_ids(v) for v in node]
        return node

    tree = strip_ids({"name": data.get("name", "Portfolio"), "slices": data.get("slices", [])})
    return save_pie_tree(account=account, tree=tree, version=version)


class _DryRun(Exception):
    pass


def slices_an_import_would_sell(*, account: Account, data: Any, version: Any) -> list[int]:
    """The held slices importing ``data`` would mark removing (sold at the next window): the
    import itself, run and rolled back, so it matches exactly what the import would do.
    Raises what ``import_pie`` raises."""
    removing = Slice.objects.filter(pie__account=account, status=SliceStatus.REMOVING)
    before = set(removing.values_list("id", flat=True))
    found: list[int] = []
    try:
        with transaction.atomic():
            import_pie(account=account, data=data, version=version)
            found = list(removing.exclude(id__in=before).values_list("id", flat=True))
            raise _DryRun
    except _DryRun:
        pass
    return found

"""The warehouses API's serializers, by sub-domain (listings, leases, transfers, reviews,
escrow). Input serializers check the shape; services enforce the rules. Output serializers
name their fields explicitly. The views use them as `serializers.X`."""

from warehouses.api.serializers.escrow import (
    DisputeInputSerializer,
    DisputeResolveInputSerializer,
    DisputeSerializer,
    PayInputSerializer,
)
from warehouses.api.serializers.leases import (
    NEVER_PAID,
    UNPAID,
    EscrowBlockSerializer,
    LeaseReasonInputSerializer,
    LeaseReasonSerializer,
    LeaseRequestSerializer,
    LeaseSerializer,
    escrow_block,
)
from warehouses.api.serializers.listings import (
    FEATURES_HELP,
    MAX_SEARCH_FEATURES,
    CalendarDaySerializer,
    ListingInputSerializer,
    ListingSearchSerializer,
    ListingSerializer,
    ListingUpdateSerializer,
    OperatorSerializer,
    QuoteSerializer,
    WarehouseInputSerializer,
    WarehouseSerializer,
    check_currency,
    check_range,
)
from warehouses.api.serializers.reviews import (
    LeaseReviewSerializer,
    ReviewInputSerializer,
)
from warehouses.api.serializers.transfers import (
    MAX_ID,
    LeaseTransferSerializer,
    PartySerializer,
    TransferAcceptInputSerializer,
    TransferOfferInputSerializer,
    TransferReasonInputSerializer,
)

__all__ = [
    "CalendarDaySerializer",
    "DisputeInputSerializer",
    "DisputeResolveInputSerializer",
    "DisputeSerializer",
    "EscrowBlockSerializer",
    "FEATURES_HELP",
    "LeaseReasonInputSerializer",
    "LeaseReasonSerializer",
    "LeaseRequestSerializer",
    "LeaseReviewSerializer",
    "LeaseSerializer",
    "LeaseTransferSerializer",
    "ListingInputSerializer",
    "ListingSearchSerializer",
    "ListingSerializer",
    "ListingUpdateSerializer",
    "MAX_ID",
    "MAX_SEARCH_FEATURES",
    "NEVER_PAID",
    "OperatorSerializer",
    "PartySerializer",
    "PayInputSerializer",
    "QuoteSerializer",
    "ReviewInputSerializer",
    "TransferAcceptInputSerializer",
    "TransferOfferInputSerializer",
    "TransferReasonInputSerializer",
    "UNPAID",
    "WarehouseInputSerializer",
    "WarehouseSerializer",
    "check_currency",
    "check_range",
    "escrow_block",
]

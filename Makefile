# netbox-hedgehog: every target runs scripts/dev.sh; see README.md.
# PYTHON=/path/to/python3.12 and NETBOX_PORT=8000 override the defaults; FUZZ_* tune make fuzz (fuzz/).
export PYTHON
export NETBOX_PORT

.PHONY: setup up down demo test chaos bench fuzz lint

setup:
	@scripts/dev.sh setup
up:
	@scripts/dev.sh up
down:
	@scripts/dev.sh down
demo:
	@scripts/dev.sh demo
test:
	@scripts/dev.sh test $(ARGS)
chaos:
	@scripts/dev.sh chaos $(ARGS)
bench:
	@scripts/dev.sh bench $(ARGS)
fuzz:
	@scripts/dev.sh fuzz $(ARGS)
lint:
	@scripts/dev.sh lint

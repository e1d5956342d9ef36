# Shortcuts for the two README commands (make is optional: dev.py needs only Python).
.PHONY: demo test
demo:
	python3 dev.py demo
test:
	python3 dev.py test

"""Worker-side integration with Celery: strategy, execution pipeline, async loop."""

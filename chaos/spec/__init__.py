"""What a user declares: experiments, surfaces and their SLIs, extra metric sources."""

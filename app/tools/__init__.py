"""Developer tools that read the code itself (the package graph); nothing here runs in
production."""

"""`python -m featrix_iac`: the same entry point as the `featrix` console script."""

from featrix_iac.cli.main import main

if __name__ == "__main__":
    main()

from .cli import main

if __name__ == "__main__":  # not when a writer process started fresh imports it
    main()

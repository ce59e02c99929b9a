fn main() -> std::process::ExitCode {
    alfa_calltouch::cli::main()
}

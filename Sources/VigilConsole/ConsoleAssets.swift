/// The operator console's files (Assets/: index.html, logic.js, console.js, style.css), compiled
/// into the binary by SwiftPM's `embedInCode`, so a deployed gateway needs no asset directory and
/// the console always matches the gateway that serves it. Edited as ordinary files; `make test`
/// checks the scripts with `node --check` and runs Tests/console under `node --test`.
package enum ConsoleAssets {
    package struct File: Sendable {
        /// Where the console asks for it.
        package let path: String
        package let contentType: String
        package let bytes: [UInt8]
    }

    package static let page = File(path: "/", contentType: "text/html; charset=utf-8", bytes: PackageResources.index_html)

    /// The script and style sheet under `/console/`.
    package static let files: [File] = [
        File(path: "/console/logic.js", contentType: "text/javascript; charset=utf-8", bytes: PackageResources.logic_js),
        File(path: "/console/console.js", contentType: "text/javascript; charset=utf-8", bytes: PackageResources.console_js),
        File(path: "/console/style.css", contentType: "text/css; charset=utf-8", bytes: PackageResources.style_css),
    ]
}

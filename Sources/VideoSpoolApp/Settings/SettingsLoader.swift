import Configuration
import Foundation
import VideoSpoolCore
import Yams

/// Loads `videospool.yaml`: reads and parses it once, checks that every key is known (a typo is an
/// error with a suggestion, not a silently ignored setting), then hands the values to
/// swift-configuration's `ConfigReader`, through which every setting is read.
public enum SettingsLoader {
    public static let defaultPath = "/etc/videospool/videospool.yaml"

    /// Loads settings from `path` (or the default path, which may be absent: then every key has its
    /// default) and resolves credentials from `environment`.
    public static func load(
        path explicitPath: String?,
        environment: [String: String]
    ) async throws(ConfigurationError) -> (settings: DaemonSettings, credentials: Credentials) {
        let settings = try await loadSettings(path: explicitPath)
        let credentials = try Credentials.resolve(settings: settings, environment: environment)
        return (settings, credentials)
    }

    /// Loads settings as ``load(path:environment:)`` does, without credentials: the file, then the
    /// model definitions in `models.directory`.
    public static func loadSettings(path explicitPath: String?) async throws(ConfigurationError) -> DaemonSettings {
        var settings = try await loadFile(path: explicitPath)
        // The default directory need not exist; one the operator names must.
        settings.models = try ModelDirectory.load(
            settings.modelsDirectory,
            required: settings.modelsDirectory != DaemonSettings.defaultModelsDirectory
        )
        return settings
    }

    private static func loadFile(path explicitPath: String?) async throws(ConfigurationError) -> DaemonSettings {
        let path = explicitPath ?? defaultPath
        guard FileManager.default.fileExists(atPath: path) else {
            if explicitPath == nil { return DaemonSettings() }
            throw ConfigurationError(key: nil, "configuration file \(path) does not exist")
        }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(key: nil, "cannot read \(path): \(error.localizedDescription)")
        }
        let mapping = try parse(yaml: text, path: path)
        let values = try flatten(mapping, prefix: [])
        try checkKeys(values.keys.map { $0.components.joined(separator: ".") }, path: path)
        return try DaemonSettings(config: ConfigReader(provider: InMemoryProvider(name: path, values: values)))
    }

    /// The file's top-level mapping, parsed once (by Yams, which swift-configuration's own YAML
    /// provider uses too); an empty file is an empty mapping.
    static func parse(yaml text: String, path: String) throws(ConfigurationError) -> Node.Mapping {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw ConfigurationError(key: nil, "\(path) is not valid YAML: \(error)")
        }
        guard let node else { return Node.Mapping([]) }
        guard case .mapping(let mapping) = node else {
            throw ConfigurationError(key: nil, "\(path) must be a YAML mapping of settings")
        }
        return mapping
    }

    /// Rejects unknown keys, naming the nearest known key.
    static func checkKeys(_ keys: [String], path: String) throws(ConfigurationError) {
        for key in keys.sorted() where !DaemonSettings.knownKeys.contains(key) {
            var message = "unknown setting in \(path)"
            if let suggestion = FieldSuggestion.nearest(to: key, among: DaemonSettings.knownKeys) {
                message += "; did you mean '\(suggestion)'?"
            }
            throw ConfigurationError(key: key, message)
        }
    }

    private static let yamlNulls: Set<String> = ["", "~", "null", "Null", "NULL"]

    /// Every setting as swift-configuration sees it: a scalar as the text written (``StrictReader``
    /// converts it, naming the key and the accepted range when it does not fit), a list of scalars
    /// as a string array.
    private static func flatten(
        _ mapping: Node.Mapping,
        prefix: [String]
    ) throws(ConfigurationError) -> [AbsoluteConfigKey: ConfigValue] {
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        for (key, value) in mapping {
            let name = prefix + [key.string ?? "?"]
            switch value {
            case .mapping(let nested):
                values.merge(try flatten(nested, prefix: name)) { $1 }
            case .sequence(let sequence):
                var items: [String] = []
                for item in sequence {
                    guard let text = item.scalar?.string else {
                        throw ConfigurationError(key: name.joined(separator: "."), "must be a list of values")
                    }
                    items.append(text)
                }
                values[AbsoluteConfigKey(name)] = ConfigValue(.stringArray(items), isSecret: false)
            case .scalar(let scalar) where scalar.style == .plain && yamlNulls.contains(scalar.string):
                continue  // `key:` or `key: ~` sets nothing: the default holds
            case .scalar(let scalar):
                values[AbsoluteConfigKey(name)] = ConfigValue(.string(scalar.string), isSecret: false)
            case .alias:
                throw ConfigurationError(key: name.joined(separator: "."), "YAML anchors and aliases are not supported")
            }
        }
        return values
    }
}

import Configuration
import Foundation
import SystemPackage
import VideoSpoolCore
import Yams

/// Loads `videospool.yaml`: checks it is readable YAML whose keys are all known (a typo is an
/// error with a suggestion, not a silently ignored setting), then reads it through
/// swift-configuration.
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
        try checkKeys(yaml: text, path: path)
        let provider: FileProvider<YAMLSnapshot>
        do {
            provider = try await FileProvider<YAMLSnapshot>(filePath: FilePath(path))
        } catch {
            throw ConfigurationError(key: nil, "cannot load \(path): \(error)")
        }
        return try DaemonSettings(config: ConfigReader(provider: provider))
    }

    /// Rejects YAML syntax errors and unknown keys, naming the nearest known key.
    static func checkKeys(yaml text: String, path: String) throws(ConfigurationError) {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw ConfigurationError(key: nil, "\(path) is not valid YAML: \(error)")
        }
        guard let node else { return }
        guard case .mapping(let mapping) = node else {
            throw ConfigurationError(key: nil, "\(path) must be a YAML mapping of settings")
        }
        for key in flatten(mapping, prefix: "") where !DaemonSettings.knownKeys.contains(key) {
            var message = "unknown setting in \(path)"
            if let suggestion = FieldSuggestion.nearest(to: key, among: DaemonSettings.knownKeys) {
                message += "; did you mean '\(suggestion)'?"
            }
            throw ConfigurationError(key: key, message)
        }
    }

    private static func flatten(_ mapping: Node.Mapping, prefix: String) -> [String] {
        var keys: [String] = []
        for (key, value) in mapping {
            let name = prefix + (key.string ?? "?")
            if case .mapping(let nested) = value {
                keys.append(contentsOf: flatten(nested, prefix: name + "."))
            } else {
                keys.append(name)
            }
        }
        return keys
    }
}

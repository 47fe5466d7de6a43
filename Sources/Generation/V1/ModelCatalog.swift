import Contracts
import Foundation
import ServiceKit

/// The models `/v1` sells and the providers that serve them, from a JSON file (`v1.catalogue`):
///
/// ```json
/// {"providers": [{"name": "openai", "url": "https://api.openai.com/v1", "key_file": "openai.key",
///                 "input_cost": 150000, "output_cost": 600000, "first_byte_timeout": 15, "timeout": 120},
///                {"name": "anthropic", "kind": "anthropic", "url": "https://api.anthropic.com/v1",
///                 "key_file": "anthropic.key", "input_cost": 800000, "output_cost": 4000000}],
///  "models": [{"id": "gpt-4o-mini", "aliases": ["mini"], "input_price": 165000, "output_price": 660000,
///              "max_output_tokens": 16384, "routes": [{"provider": "openai", "model": "gpt-4o-mini"}]},
///             {"id": "claude-haiku", "input_price": 880000, "output_price": 4400000, "max_output_tokens": 8192,
///              "routes": [{"provider": "anthropic", "model": "claude-3-5-haiku-latest"}]}]}
/// ```
///
/// Money is integer micro-units per million tokens (µ; 1 USD = 1,000,000 µ): `input_price` and
/// `output_price` are what a team pays, `input_cost` and `output_cost` what a provider costs us,
/// which orders a model's routes (the cheaper first). A provider's `kind` is the API it speaks at
/// `url` (up to `/v1`): `openai` (the default), OpenAI's chat completions, or `anthropic`,
/// Anthropic's Messages (``AnthropicMessages``). Its key, if it takes one, is the first line of
/// `key_file` (relative to the catalogue's folder unless absolute).
struct ModelCatalog: Sendable {
    struct Provider: Sendable, Equatable {
        /// The API a provider speaks.
        enum Kind: String, Sendable {
            case openai
            case anthropic
        }

        let name: String
        let kind: Kind
        /// Up to `/v1`: `/chat/completions` follows.
        let baseURL: String
        let apiKey: String?
        let inputCost: Int64
        let outputCost: Int64
        let firstByteTimeout: Duration
        let totalTimeout: Duration
    }

    struct Route: Sendable, Equatable {
        let provider: Provider
        /// The model's name at the provider.
        let upstreamModel: String
    }

    struct Model: Sendable, Equatable {
        let id: String
        let aliases: [String]
        let inputPrice: Int64
        let outputPrice: Int64
        /// The longest answer a request may ask for, in tokens; also what one that asks for no
        /// bound is held for.
        let maxOutputTokens: Int
        /// In the order the catalogue lists them; ``ProviderPool`` orders them per request.
        let routes: [Route]
    }

    let models: [Model]
    /// When the catalogue was written, Unix seconds: each model's `created` in `/v1/models`.
    let created: Int
    private let byName: [String: Model]

    static let empty = ModelCatalog(models: [], created: 0)

    init(models: [Model], created: Int) {
        self.models = models
        self.created = created
        var byName: [String: Model] = [:]
        for model in models {
            for name in [model.id] + model.aliases { byName[name] = model }
        }
        self.byName = byName
    }

    /// The model `name` names, by its id or an alias.
    func model(named name: String) -> Model? { byName[name] }

    /// The catalogue in the file at `path`.
    /// - Throws: ``ConfigurationError`` (key `v1.catalogue`) naming what is wrong.
    static func load(path: String) throws -> ModelCatalog {
        let url = URL(fileURLWithPath: path)
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ConfigurationError(key: "v1.catalogue", message: "cannot read \(path): \(error.localizedDescription)")
        }
        let modified = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? Date(timeIntervalSince1970: 0)
        return try parse(data, created: Int(modified.timeIntervalSince1970)) { file in
            let keyURL = file.hasPrefix("/") ? URL(fileURLWithPath: file) : url.deletingLastPathComponent().appendingPathComponent(file)
            guard let text = try? String(contentsOf: keyURL, encoding: .utf8) else { return nil }
            return text.split(whereSeparator: \.isNewline).first.map { String($0).trimmingCharacters(in: .whitespaces) }
        }
    }

    /// The catalogue in `data`; `readKey` reads a provider's `key_file`.
    static func parse(_ data: Data, created: Int, readKey: (String) -> String?) throws -> ModelCatalog {
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: data)
        } catch {
            throw ConfigurationError(key: "v1.catalogue", message: "is not a catalogue: \(error)")
        }
        func refuse(_ message: String) -> ConfigurationError { ConfigurationError(key: "v1.catalogue", message: message) }
        var providers: [String: Provider] = [:]
        for entry in file.providers {
            guard BalanceAPI.isModelName(entry.name), providers[entry.name] == nil else {
                throw refuse("provider names must be unique, 1 to 128 printable characters without spaces ('\(entry.name)')")
            }
            guard let kind = Provider.Kind(rawValue: entry.kind ?? "openai") else {
                throw refuse("provider \(entry.name): kind must be openai or anthropic")
            }
            guard entry.url.hasPrefix("http://") || entry.url.hasPrefix("https://") else {
                throw refuse("provider \(entry.name): url must be an http:// or https:// URL up to /v1")
            }
            for (field, cost) in [("input_cost", entry.input_cost), ("output_cost", entry.output_cost)] where !(0...BalanceAPI.maxPrice).contains(cost ?? 0) {
                throw refuse("provider \(entry.name): \(field) must be 0 to \(BalanceAPI.maxPrice) µ per million tokens")
            }
            var apiKey: String?
            if let keyFile = entry.key_file {
                guard let key = readKey(keyFile), !key.isEmpty else { throw refuse("provider \(entry.name): cannot read a key from \(keyFile)") }
                apiKey = key
            }
            let firstByte = entry.first_byte_timeout ?? 15
            let total = entry.timeout ?? 120
            guard firstByte > 0, total > firstByte else {
                throw refuse("provider \(entry.name): timeouts must be positive seconds, timeout longer than first_byte_timeout")
            }
            providers[entry.name] = Provider(
                name: entry.name, kind: kind, baseURL: entry.url.hasSuffix("/") ? String(entry.url.dropLast()) : entry.url, apiKey: apiKey,
                inputCost: entry.input_cost ?? 0, outputCost: entry.output_cost ?? 0, firstByteTimeout: .milliseconds(Int64(firstByte * 1000)),
                totalTimeout: .milliseconds(Int64(total * 1000)))
        }
        var models: [Model] = []
        var names: Set<String> = []
        for entry in file.models {
            for name in [entry.id] + (entry.aliases ?? []) {
                // At most one slash (`vendor/model`), so that GET /v1/models/{id} can name it.
                guard BalanceAPI.isModelName(name), name.filter({ $0 == "/" }).count <= 1, names.insert(name).inserted else {
                    throw refuse("model ids and aliases must be unique, 1 to 128 printable characters without spaces and at most one slash ('\(name)')")
                }
            }
            for (field, price) in [("input_price", entry.input_price), ("output_price", entry.output_price)] where !(0...BalanceAPI.maxPrice).contains(price) {
                throw refuse("model \(entry.id): \(field) must be 0 to \(BalanceAPI.maxPrice) µ per million tokens")
            }
            guard (1...Int(Int32.max)).contains(entry.max_output_tokens) else { throw refuse("model \(entry.id): max_output_tokens must be positive") }
            guard !entry.routes.isEmpty else { throw refuse("model \(entry.id): routes must name at least one provider") }
            let routes = try entry.routes.map { route in
                guard let provider = providers[route.provider] else { throw refuse("model \(entry.id): no provider is named '\(route.provider)'") }
                return Route(provider: provider, upstreamModel: route.model ?? entry.id)
            }
            models.append(
                Model(
                    id: entry.id, aliases: entry.aliases ?? [], inputPrice: entry.input_price, outputPrice: entry.output_price,
                    maxOutputTokens: entry.max_output_tokens, routes: routes))
        }
        return ModelCatalog(models: models, created: created)
    }

    private struct File: Decodable {
        struct ProviderEntry: Decodable {
            let name: String
            let kind: String?
            let url: String
            let key_file: String?
            let input_cost: Int64?
            let output_cost: Int64?
            let first_byte_timeout: Double?
            let timeout: Double?
        }

        struct ModelEntry: Decodable {
            struct RouteEntry: Decodable {
                let provider: String
                let model: String?
            }

            let id: String
            let aliases: [String]?
            let input_price: Int64
            let output_price: Int64
            let max_output_tokens: Int
            let routes: [RouteEntry]
        }

        let providers: [ProviderEntry]
        let models: [ModelEntry]
    }
}

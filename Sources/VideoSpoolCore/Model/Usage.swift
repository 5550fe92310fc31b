/// Cost figures exactly as the API reported them (`meta.usage`).
public struct Usage: Sendable, Hashable {
    public var creditsUsed: JSONNumber?
    public var usdSpent: JSONNumber?

    public init(creditsUsed: JSONNumber?, usdSpent: JSONNumber?) {
        self.creditsUsed = creditsUsed
        self.usdSpent = usdSpent
    }

    public var json: JSONValue {
        .object(
            JSONObject([
                "credits_used": creditsUsed.map(JSONValue.number) ?? .null,
                "usd_spent": usdSpent.map(JSONValue.number) ?? .null,
            ])
        )
    }
}

import Testing
import VideoSpoolCore

/// The built-in Seedance models against the hand-written table: valid requests at every limit are
/// accepted and normalized, invalid ones are rejected with their code and field.
struct BuiltInModelValidationTests {
    @Test(arguments: ModelCase.all)
    func eachBuiltInModelKeepsItsLimits(modelCase: ModelCase) throws {
        let outcome = RequestValidator().validate(Array(modelCase.request.utf8))
        switch (outcome, modelCase.problem) {
        case (.valid(let request), nil):
            #expect(request.model == modelCase.model)
            #expect(request.isListed)
            if let duration = request.upstreamBody["duration"] {
                #expect(duration.numberValue?.isInteger == true, "duration is sent as an integer")
            }
            if let provider = request.upstreamBody["provider"]?.stringValue {
                #expect(provider == provider.lowercased(), "provider is sent lowercase")
            }
            if let parameters = modelCase.parameters {
                #expect(request.parameters == parameters, "the poll schedule's grouping")
            }
        case (.invalid(let rejected), let problem?):
            #expect(rejected.issues.count == 1, "\(rejected.issues)")
            #expect(rejected.issues.first?.code.description == problem.code, "\(rejected.issues)")
            #expect(rejected.issues.first?.field == problem.field, "\(rejected.issues)")
        case (.valid(let request), let problem?):
            Issue.record("accepted, expected \(problem.code) at \(problem.field): \(request.upstreamBody)")
        case (.invalid(let rejected), nil):
            Issue.record("rejected, expected valid: \(rejected.issues)")
        }
    }

    @Test func theTableCoversEveryBuiltInModel() {
        #expect(Set(ModelCase.all.map(\.model)) == Set(ModelCatalog.builtIn.models.map(\.schema.model)))
        for facts in SeedanceFacts.all {
            let cases = ModelCase.all.filter { $0.model == facts.model }
            #expect(cases.filter(\.isValid).count >= 15, "\(facts.model)")
            #expect(cases.filter { !$0.isValid }.count >= 20, "\(facts.model)")
        }
    }

    /// The poll schedule learns per (model, resolution, duration): jobs of different models never
    /// share what was learned, whichever fields they set.
    @Test func everyModelsJobsAreKeyedByTheirOwnModelResolutionAndDuration() throws {
        for facts in SeedanceFacts.all {
            let text = #"{"model": "\#(facts.model)", "prompt": "p", "resolution": "\#(facts.resolutions.last!)", "duration": "\#(facts.maximumDuration)"}"#
            guard case .valid(let request) = RequestValidator().validate(Array(text.utf8)) else {
                Issue.record("\(facts.model): rejected")
                continue
            }
            let job = Job(
                id: JobID("k")!,
                phase: .queued,
                model: request.model,
                callbackURLs: [],
                metadata: nil,
                acceptedAt: Timestamp(secondsSinceEpoch: 0),
                sourceName: "k.json",
                parameters: request.parameters
            )
            #expect(
                CompletionTimeKey(job)
                    == CompletionTimeKey(model: facts.model, resolution: facts.resolutions.last!, durationSeconds: facts.maximumDuration)
            )
        }
    }
}

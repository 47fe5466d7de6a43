import Contracts
import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresClient
import TestSupport
import Testing

@testable import Auth

/// Teams of the developers' API: roles, invitations, team keys and the audit. Each rule runs over
/// PostgreSQL (``AuthInstance``) and over the in-memory store (``InMemoryAuth``), so the fake
/// answers as the real one does.
@Suite struct TeamTests {
    /// What a test does besides HTTP: the store itself, and aging a team's invitations past their 7 days.
    struct Harness {
        let store: any AccountStore
        let expireInvitations: @Sendable (String) async throws -> Void
    }

    static func overBothStores(arguments: [String] = [], _ body: @Sendable (any TestClientProtocol, Harness) async throws -> Void) async throws {
        try await AuthInstance.with(arguments: arguments) { authd in
            let postgres = authd.postgres
            let harness = Harness(store: PostgresAccountStore(postgres: postgres)) { team in
                try await postgres.query("UPDATE auth.team_invitations SET expires_at = now() - interval '1 second' WHERE team_id = $1::uuid", [.text(team)])
            }
            try await authd.withClient { try await body($0, harness) }
        }
        try await InMemoryAuth.with(arguments: arguments) { authd in
            let accounts = authd.accounts
            try await authd.withClient { try await body($0, Harness(store: accounts) { accounts.expireInvitations(teamID: $0) }) }
        }
    }

    static func makeTeam(_ client: some TestClientProtocol, _ owner: Member, _ name: String = "Team") async throws -> String {
        try #require(try json(try await client.send(.post, "/auth/teams", json: #"{"name":"\#(name)"}"#, token: owner.token))["id"] as? String)
    }

    /// A key for the team made by `who` with `role`: the answer.
    static func makeKey(_ client: some TestClientProtocol, team: String, _ who: Member, role: String, extra: String = "") async throws -> TestResponse {
        try await client.send(
            .post, "/auth/teams/\(team)/api-keys", json: #"{"password":"\#(who.account.password)","name":"ci","role":"\#(role)"\#(extra)}"#,
            token: who.token)
    }

    /// A signed-in account.
    struct Member {
        let account: TestAccount
        let token: String
        let id: String
    }

    static func member(_ client: some TestClientProtocol) async throws -> Member {
        let account = TestAccount()
        try await client.register(account)
        let token = try await client.login(account).access_token
        let me = try await client.send(.get, "/auth/me", token: token)
        let id = try #require(try JSONSerialization.jsonObject(with: Data(buffer: me.body)) as? [String: Any])["user_id"] as? String
        return Member(account: account, token: token, id: try #require(id))
    }

    static func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any], "\(String(buffer: response.body))")
    }

    /// Invites `who` with `role` and has them accept; returns nothing, expecting success.
    static func join(_ client: some TestClientProtocol, team: String, inviter: Member, _ who: Member, as role: String) async throws {
        let invited = try await client.send(
            .post, "/auth/teams/\(team)/invitations", json: #"{"email":"\#(who.account.email)","role":"\#(role)"}"#, token: inviter.token)
        #expect(invited.status == .created, "\(String(buffer: invited.body))")
        let link = try #require(try json(invited)["link"] as? String)
        let token = try #require(link.split(separator: "#invitation=").last.map(String.init))
        let accepted = try await client.send(.post, "/auth/invitations/accept", json: #"{"token":"\#(token)"}"#, token: who.token)
        #expect(accepted.status == .ok, "\(String(buffer: accepted.body))")
    }

    static func validate(_ client: some TestClientProtocol, _ credential: String, team: String?, required: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [.authorization: "Bearer \(credential)"]
        if let team { headers[GatewayHeaders.team] = team }
        if let required { headers[GatewayHeaders.requiredScopes] = required }
        return try await client.execute(uri: "/internal/jwt/validate", method: .get, headers: headers)
    }

    @Test func eachRoleActsForTheTeamWithItsScopesOnly() async throws {
        try await Self.overBothStores { client, _ in
            let owner = try await Self.member(client)
            let made = try await client.send(.post, "/auth/teams", json: #"{"name":"Acme"}"#, token: owner.token)
            #expect(made.status == .created, "\(String(buffer: made.body))")
            let team = try #require(try Self.json(made)["id"] as? String)
            var members: [String: Member] = [:]
            for role in ["admin", "billing", "member"] {
                members[role] = try await Self.member(client)
                try await Self.join(client, team: team, inviter: owner, try #require(members[role]), as: role)
            }
            let expected = [
                "owner": "inference usage:read balance:manage", "admin": "inference usage:read", "billing": "usage:read balance:manage",
                "member": "inference",
            ]
            for (role, scopes) in expected {
                let who = role == "owner" ? owner : try #require(members[role])
                let acting = try await Self.validate(client, who.token, team: team)
                #expect(acting.status == .ok, "\(role)")
                #expect(acting.header(GatewayHeaders.teamID) == team, "\(role)")
                #expect(acting.header(GatewayHeaders.userID) == who.id)
                #expect(acting.header(GatewayHeaders.scopes) == scopes, "\(role)")
                // Without X-Team, the session acts for its own team with all its scopes.
                let own = try await Self.validate(client, who.token, team: nil)
                #expect(own.header(GatewayHeaders.teamID) == who.id && own.header(GatewayHeaders.scopes)?.contains("profile") == true)
            }
            let member = try #require(members["member"])
            let topUp = try await Self.validate(client, member.token, team: team, required: "balance:manage")
            #expect(topUp.status == .forbidden && topUp.header(GatewayHeaders.authError) == "insufficient_scope")
            let stranger = try await Self.member(client)
            let outside = try await Self.validate(client, stranger.token, team: team)
            #expect(outside.status == .forbidden && outside.header(GatewayHeaders.authError) == "not_team_member")
            #expect(try await Self.validate(client, stranger.token, team: "not-a-team").header(GatewayHeaders.authError) == "not_team_member")

            // Who manages whom: an admin changes members but not owners; billing and members manage nobody.
            let admin = try #require(members["admin"])
            let billing = try #require(members["billing"])
            let promote = try await client.send(.patch, "/auth/teams/\(team)/members/\(member.id)", json: #"{"role":"owner"}"#, token: admin.token)
            #expect(promote.status == .forbidden && promote.errorBody?.error == "role_not_allowed")
            let demoteOwner = try await client.send(.patch, "/auth/teams/\(team)/members/\(owner.id)", json: #"{"role":"member"}"#, token: admin.token)
            #expect(demoteOwner.status == .forbidden)
            let invite = try await client.send(
                .post, "/auth/teams/\(team)/invitations", json: #"{"email":"x@example.com","role":"member"}"#, token: member.token)
            #expect(invite.status == .forbidden && invite.errorBody?.error == "role_not_allowed")
            let ownerInvite = try await client.send(
                .post, "/auth/teams/\(team)/invitations", json: #"{"email":"x@example.com","role":"owner"}"#, token: owner.token)
            #expect(ownerInvite.status == .forbidden, "owners are made from members, not invited")
            #expect(try await client.send(.get, "/auth/teams/\(team)/audit", token: billing.token).status == .forbidden)
            #expect(try await client.send(.get, "/auth/teams/\(team)", token: stranger.token).status == .notFound)
            let changed = try await client.send(.patch, "/auth/teams/\(team)/members/\(member.id)", json: #"{"role":"billing"}"#, token: admin.token)
            #expect(changed.status == .ok, "\(String(buffer: changed.body))")
            #expect(try await Self.validate(client, member.token, team: team).header(GatewayHeaders.scopes) == "usage:read balance:manage")

            // The last owner can neither leave nor be demoted; with a second owner, they can.
            let leave = try await client.send(.delete, "/auth/teams/\(team)/members/\(owner.id)", token: owner.token)
            #expect(leave.status == .conflict && leave.errorBody?.error == "last_owner")
            #expect(try await client.send(.patch, "/auth/teams/\(team)/members/\(admin.id)", json: #"{"role":"owner"}"#, token: owner.token).status == .ok)
            #expect(try await client.send(.delete, "/auth/teams/\(team)/members/\(owner.id)", token: owner.token).status == .noContent)
            // A removed member loses the team at once: nothing about membership is cached.
            #expect(try await Self.validate(client, owner.token, team: team).header(GatewayHeaders.authError) == "not_team_member")

            let audit = try await client.send(.get, "/auth/teams/\(team)/audit", token: admin.token)
            let actions = try #require(try Self.json(audit)["entries"] as? [[String: Any]]).compactMap { $0["action"] as? String }
            #expect(
                actions == [
                    "member_left", "member_role_changed", "member_role_changed", "member_joined", "invitation_created", "member_joined", "invitation_created",
                    "member_joined", "invitation_created", "team_created",
                ])
            let listed = try #require(try Self.json(try await client.send(.get, "/auth/teams", token: admin.token))["teams"] as? [[String: Any]])
            #expect(listed.first?["role"] as? String == "owner" && listed.first?["manageable_roles"] as? [String] == ["owner", "admin", "billing", "member"])
            let billingView = try #require(try Self.json(try await client.send(.get, "/auth/teams", token: billing.token))["teams"] as? [[String: Any]]).first
            #expect(billingView?["scopes"] as? [String] == ["balance:manage", "usage:read"] && billingView?["manages_members"] as? Bool == false)
            #expect(billingView?["manageable_roles"] as? [String] == [] && billingView?["key_roles"] as? [String] == ["billing"])
        }
    }

    @Test func teamKeysCarryTheirRoleAndActForTheirTeamOnly() async throws {
        try await Self.overBothStores { client, _ in
            let owner = try await Self.member(client)
            let team = try #require(try Self.json(try await client.send(.post, "/auth/teams", json: #"{"name":"Keys"}"#, token: owner.token))["id"] as? String)
            let member = try await Self.member(client)
            try await Self.join(client, team: team, inviter: owner, member, as: "member")

            func makeKey(_ who: Member, role: String, extra: String = "") async throws -> TestResponse {
                try await Self.makeKey(client, team: team, who, role: role, extra: extra)
            }
            // A member makes keys of their own role only.
            let tooMuch = try await makeKey(member, role: "billing")
            #expect(tooMuch.status == .forbidden && tooMuch.errorBody?.error == "role_not_allowed")
            let memberKey = try await makeKey(member, role: "member")
            #expect(memberKey.status == .created, "\(String(buffer: memberKey.body))")
            let key = try #require(try Self.json(memberKey)["key"] as? String)
            #expect(try Self.json(memberKey)["scopes"] as? [String] == ["inference"])
            let answer = try await Self.validate(client, key, team: nil, required: "inference")
            #expect(answer.status == .ok && answer.header(GatewayHeaders.teamID) == team && answer.header(GatewayHeaders.userID) == member.id)
            #expect(try await Self.validate(client, key, team: nil, required: "usage:read").status == .forbidden)
            #expect(try await Self.validate(client, key, team: team).status == .ok, "naming its own team is fine")
            #expect(try await Self.validate(client, key, team: member.id).header(GatewayHeaders.authError) == "other_team")
            // A scope beyond the role is refused; the owner's billing key reads usage but cannot run inference.
            let beyond = try await makeKey(owner, role: "billing", extra: #","scopes":["inference"]"#)
            #expect(beyond.status == .forbidden && beyond.errorBody?.error == "insufficient_scope")
            let billingKey = try #require(try Self.json(try await makeKey(owner, role: "billing"))["key"] as? String)
            #expect(try await Self.validate(client, billingKey, team: nil, required: "usage:read balance:manage").status == .ok)
            #expect(try await Self.validate(client, billingKey, team: nil, required: "inference").status == .forbidden)

            // Team keys are the team's: listed there, not among the maker's own keys.
            let teamKeys = try #require(
                try Self.json(try await client.send(.get, "/auth/teams/\(team)/api-keys", token: owner.token))["api_keys"] as? [[String: Any]])
            #expect(teamKeys.count == 2 && teamKeys.contains { $0["role"] as? String == "member" && $0["created_by"] as? String == member.id })
            let own = try #require(try Self.json(try await client.send(.get, "/auth/api-keys", token: member.token))["api_keys"] as? [[String: Any]])
            #expect(own.isEmpty)
            // A member revokes nobody's key but their own (404, as for no key), at once.
            let billingKeyID = try #require(teamKeys.first { $0["role"] as? String == "billing" }?["id"] as? String)
            #expect(try await client.send(.delete, "/auth/teams/\(team)/api-keys/\(billingKeyID)", token: member.token).status == .notFound)
            #expect(try await Self.validate(client, billingKey, team: nil).status == .ok)
            let memberKeyID = try #require(try Self.json(memberKey)["id"] as? String)
            #expect(try await client.send(.delete, "/auth/teams/\(team)/api-keys/\(memberKeyID)", token: member.token).status == .noContent)
            #expect(try await Self.validate(client, key, team: nil).status == .unauthorized)
        }
    }

    @Test func anInvitationIsOneUseForItsAddressWithinSevenDays() async throws {
        try await Self.overBothStores { client, harness in
            let owner = try await Self.member(client)
            let team = try #require(try Self.json(try await client.send(.post, "/auth/teams", json: #"{"name":"Links"}"#, token: owner.token))["id"] as? String)
            let invitee = try await Self.member(client)
            let other = try await Self.member(client)
            func invite() async throws -> (id: String, token: String) {
                let made = try await client.send(
                    .post, "/auth/teams/\(team)/invitations", json: #"{"email":"\#(invitee.account.email.uppercased())","role":"member"}"#, token: owner.token)
                #expect(made.status == .created, "\(String(buffer: made.body))")
                let body = try Self.json(made)
                let invitation = try #require(body["invitation"] as? [String: Any])
                #expect(invitation["email"] as? String == invitee.account.email)
                let link = try #require(body["link"] as? String)
                return (try #require(invitation["id"] as? String), try #require(link.split(separator: "#invitation=").last.map(String.init)))
            }
            func accept(_ token: String, as who: Member) async throws -> TestResponse {
                try await client.send(.post, "/auth/invitations/accept", json: #"{"token":"\#(token)"}"#, token: who.token)
            }
            let first = try await invite()
            // Inviting the address again replaces the open invitation: the first link dies.
            let second = try await invite()
            #expect(try await accept(first.token, as: invitee).status == .notFound)
            let listed = try Self.json(try await client.send(.get, "/auth/teams/\(team)/invitations", token: owner.token))
            #expect((listed["invitations"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [second.id])
            let wrongPerson = try await accept(second.token, as: other)
            #expect(wrongPerson.status == .forbidden && wrongPerson.errorBody?.error == "invitation_for_other_email")
            let joined = try await accept(second.token, as: invitee)
            #expect(joined.status == .ok)
            #expect(try Self.json(joined)["role"] as? String == "member")
            let again = try await accept(second.token, as: invitee)
            #expect(again.status == .gone && again.errorBody?.error == "invitation_used")
            #expect(try await accept("inv_forged", as: invitee).status == .notFound)

            // A revoked invitation is gone; an expired one says so.
            let revoked = try await client.send(
                .post, "/auth/teams/\(team)/invitations", json: #"{"email":"\#(other.account.email)","role":"billing"}"#, token: owner.token)
            let revokedID = try #require(try Self.json(revoked)["invitation"] as? [String: Any])["id"] as? String
            #expect(try await client.send(.delete, "/auth/teams/\(team)/invitations/\(try #require(revokedID))", token: owner.token).status == .noContent)
            let revokedToken = try #require((try Self.json(revoked)["link"] as? String)?.split(separator: "#invitation=").last.map(String.init))
            #expect(try await accept(revokedToken, as: other).status == .notFound)
            let late = try await client.send(
                .post, "/auth/teams/\(team)/invitations", json: #"{"email":"\#(other.account.email)","role":"billing"}"#, token: owner.token)
            let lateToken = try #require((try Self.json(late)["link"] as? String)?.split(separator: "#invitation=").last.map(String.init))
            try await harness.expireInvitations(team)
            let expired = try await accept(lateToken, as: other)
            #expect(expired.status == .gone && expired.errorBody?.error == "invitation_expired")
        }
    }

    @Test func aUserMakesAtMostTwentyTeams() async throws {
        try await Self.overBothStores { client, _ in
            let owner = try await Self.member(client)
            for number in 1...Teams.teamsPerUser {
                #expect(try await client.send(.post, "/auth/teams", json: #"{"name":"Team \#(number)"}"#, token: owner.token).status == .created)
            }
            let refused = try await client.send(.post, "/auth/teams", json: #"{"name":"One more"}"#, token: owner.token)
            #expect(refused.status == .conflict && refused.errorBody?.error == "too_many_teams")
            let blank = try await client.send(.post, "/auth/teams", json: #"{"name":"  "}"#, token: (try await Self.member(client)).token)
            #expect(blank.status == .badRequest && blank.errorBody?.field == "name")
        }
    }

    /// A key never outlasts its maker's standing: a new role revokes the keys it could not make,
    /// leaving revokes them all, and an invitation dies with its inviter's right to give its role.
    @Test func aMembersKeysAndInvitationsGoWithTheirStanding() async throws {
        try await Self.overBothStores { client, harness in
            let owner = try await Self.member(client)
            let team = try await Self.makeTeam(client, owner)
            let admin = try await Self.member(client)
            try await Self.join(client, team: team, inviter: owner, admin, as: "admin")
            let billing = try await Self.member(client)
            try await Self.join(client, team: team, inviter: owner, billing, as: "billing")
            let adminKey = try Self.json(try await Self.makeKey(client, team: team, admin, role: "admin"))
            let memberKey = try Self.json(try await Self.makeKey(client, team: team, admin, role: "member"))
            let ownerKey = try Self.json(try await Self.makeKey(client, team: team, owner, role: "owner"))
            let key = { (made: [String: Any]) in try #require(made["key"] as? String) }
            let id = { (made: [String: Any]) in try #require(made["id"] as? String) }

            // Who revokes what: an admin not an owner's key, a member nobody's but their own (404, as for no key).
            #expect(try await client.send(.delete, "/auth/teams/\(team)/api-keys/\(try id(ownerKey))", token: admin.token).status == .notFound)
            #expect(try await Self.validate(client, try key(ownerKey), team: nil).status == .ok)

            // Owners and billing cap a team's key, which every instance then reads anew; an admin may not.
            #expect(try await Self.validate(client, try key(memberKey), team: nil).header(GatewayHeaders.keyDailyLimit) == nil)
            for (who, limit) in [(owner, 700000), (billing, 900000)] {
                let capped = try await client.send(
                    .patch, "/auth/teams/\(team)/api-keys/\(try id(memberKey))",
                    json: #"{"password":"\#(who.account.password)","daily_limit_micros":\#(limit)}"#, token: who.token)
                #expect(capped.status == .ok, "\(String(buffer: capped.body))")
                #expect(try await Self.validate(client, try key(memberKey), team: nil).header(GatewayHeaders.keyDailyLimit) == "\(limit)")
            }
            let byAdmin = try await client.send(
                .patch, "/auth/teams/\(team)/api-keys/\(try id(memberKey))", json: #"{"password":"\#(admin.account.password)","daily_limit_micros":null}"#,
                token: admin.token)
            #expect(byAdmin.status == .forbidden && byAdmin.errorBody?.error == "role_not_allowed")

            // An invitation the admin made dies when the admin goes.
            let invitee = try await Self.member(client)
            let invited = try await client.send(
                .post, "/auth/teams/\(team)/invitations", json: #"{"email":"\#(invitee.account.email)","role":"member"}"#, token: admin.token)
            let link = try #require((try Self.json(invited)["link"] as? String)?.split(separator: "#invitation=").last.map(String.init))

            // Demoted to member: the admin key goes, the member key stays.
            #expect(try await client.send(.patch, "/auth/teams/\(team)/members/\(admin.id)", json: #"{"role":"member"}"#, token: owner.token).status == .ok)
            #expect(try await Self.validate(client, try key(adminKey), team: nil).status == .unauthorized)
            #expect(try await Self.validate(client, try key(memberKey), team: nil).status == .ok)
            let accepted = try await client.send(.post, "/auth/invitations/accept", json: #"{"token":"\#(link)"}"#, token: invitee.token)
            #expect(accepted.status == .notFound, "a member may not give the member role: the invitation was revoked with the demotion")
            // Removed: every key they made for the team goes.
            #expect(try await client.send(.delete, "/auth/teams/\(team)/members/\(admin.id)", token: owner.token).status == .noContent)
            #expect(try await Self.validate(client, try key(memberKey), team: nil).status == .unauthorized)
            // Written only while the maker may make it: the store refuses a key for someone no longer in the team.
            let refused = try await harness.store.createAPIKey(
                userID: admin.id, name: "late", digest: Array(repeating: 7, count: 32), prefix: "sk_late", scopes: ["inference"], dailyLimit: nil,
                lifetime: 3600, limit: 20, team: TeamKeyGrant(teamID: team, role: .member))
            #expect(refused == .notAllowed)

            let audit = try Self.json(try await client.send(.get, "/auth/teams/\(team)/audit?limit=8", token: owner.token))
            let actions = try #require(audit["entries"] as? [[String: Any]]).compactMap { $0["action"] as? String }
            #expect(
                actions == [
                    "api_key_revoked", "member_removed", "api_key_revoked", "invitation_revoked", "member_role_changed", "invitation_created",
                    "api_key_changed", "api_key_changed",
                ])
        }
    }

    @Test func teamRefusalsSayWhatWentWrong() async throws {
        try await Self.overBothStores(arguments: ["--apikeys-limit", "2"]) { client, _ in
            let owner = try await Self.member(client)
            let team = try await Self.makeTeam(client, owner)
            let member = try await Self.member(client)
            try await Self.join(client, team: team, inviter: owner, member, as: "member")
            let nobody = UUID().uuidString.lowercased()
            #expect(try await client.send(.patch, "/auth/teams/\(team)/members/\(nobody)", json: #"{"role":"admin"}"#, token: owner.token).status == .notFound)
            #expect(try await client.send(.delete, "/auth/teams/\(team)/members/\(nobody)", token: owner.token).status == .notFound)
            #expect(try await client.send(.delete, "/auth/teams/\(team)/invitations/\(nobody)", token: owner.token).status == .notFound)
            let badEmail = try await client.send(.post, "/auth/teams/\(team)/invitations", json: #"{"email":"nope","role":"member"}"#, token: owner.token)
            #expect(badEmail.status == .badRequest && badEmail.errorBody?.error == "invalid_email")
            let badRole = try await client.send(.patch, "/auth/teams/\(team)/members/\(member.id)", json: #"{"role":"king"}"#, token: owner.token)
            #expect(badRole.status == .badRequest)
            // A member invited again cannot join twice.
            let again = try await client.send(
                .post, "/auth/teams/\(team)/invitations", json: #"{"email":"\#(member.account.email)","role":"billing"}"#, token: owner.token)
            let link = try #require((try Self.json(again)["link"] as? String)?.split(separator: "#invitation=").last.map(String.init))
            let twice = try await client.send(.post, "/auth/invitations/accept", json: #"{"token":"\#(link)"}"#, token: member.token)
            #expect(twice.status == .conflict && twice.errorBody?.error == "already_member")
            // The team's keys count apart from the maker's own: two of their own, two for the team, then 409.
            for _ in 0..<2 {
                let own = try await client.send(
                    .post, "/auth/api-keys", json: #"{"password":"\#(member.account.password)","name":"own","scopes":["inference"]}"#, token: member.token)
                #expect(own.status == .created)
            }
            for _ in 0..<2 { #expect(try await Self.makeKey(client, team: team, member, role: "member").status == .created) }
            let third = try await Self.makeKey(client, team: team, member, role: "member")
            #expect(third.status == .conflict && third.errorBody?.error == "too_many_api_keys")
            // The audit pages backwards by id, and refuses a bad page.
            for query in ["limit=0", "limit=501", "before=x", "before=0"] {
                let refused = try await client.send(.get, "/auth/teams/\(team)/audit?\(query)", token: owner.token)
                #expect(refused.status == .badRequest && refused.errorBody?.error == "invalid_field", "\(query)")
            }
            let first = try #require(
                try Self.json(try await client.send(.get, "/auth/teams/\(team)/audit?limit=2", token: owner.token))["entries"] as? [[String: Any]])
            let last = try #require(first.last?["id"] as? Int)
            let rest = try #require(
                try Self.json(try await client.send(.get, "/auth/teams/\(team)/audit?before=\(last)", token: owner.token))["entries"] as? [[String: Any]])
            #expect(first.count == 2 && rest.allSatisfy { ($0["id"] as? Int ?? .max) < last } && rest.last?["action"] as? String == "team_created")
        }
    }

    /// Two owners leaving at once: the team's lock lets exactly one go, so it keeps an owner; and
    /// the audit cannot be edited.
    @Test func twoOwnersLeavingAtOnceLeaveOneAndTheAuditIsAppendOnly() async throws {
        try await AuthInstance.with { authd in
            try await authd.withClient { client in
                let first = try await Self.member(client)
                let second = try await Self.member(client)
                let team = try #require(
                    try Self.json(try await client.send(.post, "/auth/teams", json: #"{"name":"Race"}"#, token: first.token))["id"] as? String)
                try await Self.join(client, team: team, inviter: first, second, as: "admin")
                #expect(try await client.send(.patch, "/auth/teams/\(team)/members/\(second.id)", json: #"{"role":"owner"}"#, token: first.token).status == .ok)
                let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                    for owner in [first, second] {
                        group.addTask { try await client.send(.delete, "/auth/teams/\(team)/members/\(owner.id)", token: owner.token).status }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(statuses.sorted { $0.code < $1.code } == [.noContent, .conflict])
                await #expect(throws: PostgresError.self) {
                    try await authd.postgres.query("UPDATE auth.team_audit SET action = 'nothing' WHERE team_id = $1::uuid", [.text(team)])
                }
            }
        }
    }
}
